//! The command line, as clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use meshdesk_model::{ChannelKind, FormField, Role, Strategy};

/// meshdesk: a contact-center agent inbox that needs no server.
#[derive(Debug, Parser)]
#[command(name = "meshdesk", version, about, propagate_version = true)]
pub struct Cli {
    /// Where this node keeps its store and keys (default: the platform data dir).
    #[arg(long, global = true, env = "MESHDESK_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Print one JSON document instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// Open a throwaway demo team with sample data and a simulated teammate.
    #[arg(long)]
    pub demo: bool,

    /// The window's node: a relay (`meshdesk relay`) to reach teammates on
    /// other sites through, ending in /p2p/<relay id> (repeat); remembered.
    #[arg(long = "relay", value_name = "MULTIADDR")]
    pub relays: Vec<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, join and manage the team.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Campaigns: queues with their routing strategy.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// The phonebook.
    #[command(subcommand)]
    Contact(ContactCommand),
    /// Conversations with customers.
    #[command(subcommand)]
    Interaction(InteractionCommand),
    /// Routing decisions.
    #[command(subcommand)]
    Route(RouteCommand),
    /// Chat between agents and in campaign rooms.
    #[command(subcommand)]
    Chat(ChatCommand),
    /// This agent's availability.
    #[command(subcommand)]
    Status(StatusCommand),
    /// Where teammates wrote `@your name` in a note or team chat, newest first.
    Mentions {
        /// Only those not yet seen on this device (in the window's Mentions view).
        #[arg(long)]
        unseen: bool,
    },
    /// The tags in use on interactions and contacts, most used first.
    Tags,
    /// Canned responses: replies written once, inserted with `/code`.
    #[command(subcommand)]
    Canned(CannedCommand),
    /// Run the node headless until SIGINT or SIGTERM.
    Node(NodeArgs),
    /// Tokens for the REST API this node serves with `node --http`.
    #[command(subcommand, name = "api-token")]
    ApiToken(ApiTokenCommand),
    /// A campaign's mailbox (the email channel): set, show, test.
    #[command(subcommand)]
    Mailbox(MailboxCommand),
    /// Outgoing webhooks per campaign (agent messages and finalize, HMAC-signed).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Carry the team's documents by hand, in a file sealed with the team
    /// key, between devices that never meet on a network.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Write the team's data in open formats, readable without meshdesk.
    Export(ExportArgs),
    /// The live board (supervisors): each campaign's queue and today's
    /// figures, each agent's status and load.
    Board,
    /// A teammate's settings (supervisors).
    #[command(subcommand)]
    Agent(AgentCommand),
    /// The break reasons agents pick from (supervisors add and remove them).
    #[command(subcommand, name = "break-reason")]
    BreakReason(BreakReasonCommand),
    /// Run a relay for teams on several sites: members behind NATs reach
    /// each other through it. It keeps no team data.
    Relay(RelayArgs),
    /// Figures for a date range by campaign or by agent (an agent sees
    /// their own row by agent): a table, JSON with --json, or CSV.
    Report(ReportArgs),
    /// Files attached to messages.
    #[command(subcommand)]
    File(FileCommand),
    /// Check the store (stop the node first): every document loads and its
    /// seals verify, the projections agree with the documents; lists
    /// quarantined documents. Exits 1 when anything is wrong; changes nothing.
    Doctor,
}

#[derive(Debug, Subcommand)]
pub enum FileCommand {
    /// Write a file named in a message (by its hash, from `interaction
    /// show`) to PATH, its hash checked; a running node fetches it from a
    /// teammate when this device lacks it.
    Get {
        hash: String,
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
}

/// `report`: the range is `[from, to)` in UTC; a day means its midnight.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The first day (YYYY-MM-DD, UTC) or time (RFC 3339) counted.
    #[arg(long)]
    pub from: String,
    /// The day (or time) the range ends before: `--to 2026-12-01` ends
    /// with November.
    #[arg(long)]
    pub to: String,
    /// One row per campaign or per agent.
    #[arg(long, default_value = "campaign", value_parser = |s: &str| s.parse::<meshdesk_model::report::Grouping>())]
    pub by: meshdesk_model::report::Grouping,
    /// Write the report as CSV to this file (the columns are in README.md).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Draw the report's charts (offered by hour, handled per row,
    /// dispositions) into this PNG file.
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Write the team's documents to FILE, signed and sealed with the team key.
    Export {
        file: PathBuf,
        /// Only what this device lacks, by what this node last saw of it
        /// when they met (a device id from `team members`, or its start).
        #[arg(long, value_name = "DEVICE")]
        since_device: Option<String>,
    },
    /// Merge a bundle into this device's store, with the checks sync makes;
    /// prints the documents new, updated and refused.
    Import { file: PathBuf },
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write each document as a standard `.automerge` file into DIR, with
    /// an `index.json` (id, kind, title); see docs/DATA.md.
    #[arg(long, value_name = "DIR")]
    pub automerge: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum CannedCommand {
    /// Write a canned response (supervisors). The body may hold
    /// `{contact.name}`, `{agent.name}` and `{field.NAME}`.
    Add {
        /// What agents type after `/`: letters, digits, `-` and `_`.
        #[arg(long)]
        code: String,
        #[arg(long)]
        body: String,
        /// Offer it only in this campaign's interactions.
        #[arg(long)]
        campaign: Option<String>,
    },
    /// List canned responses (those offered in a campaign with `--campaign`).
    List {
        #[arg(long)]
        campaign: Option<String>,
    },
    /// Change a canned response (supervisors), by id or code.
    Edit {
        canned: String,
        #[arg(long)]
        code: Option<String>,
        #[arg(long)]
        body: Option<String>,
        #[arg(long, conflicts_with = "all_campaigns")]
        campaign: Option<String>,
        /// Offer it in every campaign again.
        #[arg(long)]
        all_campaigns: bool,
    },
    /// Remove a canned response (supervisors), by id or code.
    Remove { canned: String },
    /// Print a canned response filled for an interaction.
    Fill {
        canned: String,
        #[arg(long)]
        interaction: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Sets a campaign's mailbox (supervisors) and keeps the password on
    /// this device, which becomes one of the mailbox's fetchers.
    Set(MailboxSetArgs),
    /// Shows a campaign's mailbox (never a password).
    Show {
        #[arg(long)]
        campaign: String,
    },
    /// Keeps the mailbox's password on this device (for sending replies,
    /// and for fetching when the device is a fetcher). Read from stdin
    /// unless --password is given.
    Password {
        #[arg(long)]
        campaign: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Adds (or with --remove, removes) a device (peer id) among the
    /// mailbox's fetchers (supervisors).
    Fetcher {
        #[arg(long)]
        campaign: String,
        #[arg(long)]
        device: String,
        #[arg(long)]
        remove: bool,
    },
    /// Checks the IMAP and SMTP servers with this device's password.
    Test {
        #[arg(long)]
        campaign: String,
    },
    /// Removes a campaign's mailbox (supervisors) and this device's password.
    Remove {
        #[arg(long)]
        campaign: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct MailboxSetArgs {
    #[arg(long)]
    pub campaign: String,
    /// The address customers write to.
    #[arg(long)]
    pub address: String,
    #[arg(long)]
    pub imap_host: String,
    #[arg(long, default_value_t = 993)]
    pub imap_port: u16,
    /// tls, starttls or none
    #[arg(long, default_value = "tls")]
    pub imap_tls: String,
    /// Defaults to the address.
    #[arg(long)]
    pub imap_user: Option<String>,
    #[arg(long)]
    pub smtp_host: String,
    #[arg(long, default_value_t = 587)]
    pub smtp_port: u16,
    /// tls, starttls or none
    #[arg(long, default_value = "starttls")]
    pub smtp_tls: String,
    /// Defaults to the IMAP user.
    #[arg(long)]
    pub smtp_user: Option<String>,
    /// The password (else read from stdin); kept on this device only.
    #[arg(long)]
    pub password: Option<String>,
    /// Do not make this device a fetcher.
    #[arg(long)]
    pub no_fetch: bool,
}

#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// Make a token; it is printed once and stored only as a hash.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List tokens (names and ids, never the tokens).
    List,
    /// Revoke a token by name or id.
    Revoke { token: String },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Send a campaign's events to URL.
    Set {
        #[arg(long)]
        campaign: String,
        #[arg(long)]
        url: String,
        /// The signing secret (at least 16 characters); default: a fresh one, printed.
        #[arg(long)]
        secret: Option<String>,
    },
    /// Stop sending a campaign's events.
    Remove {
        #[arg(long)]
        campaign: String,
    },
    /// List webhooks.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create a new team with this device as its first (supervisor) member.
    Create {
        #[arg(long)]
        name: String,
        /// Your agent name.
        #[arg(long)]
        agent: String,
    },
    /// Show the team, its campaigns and agents.
    Show,
    /// Print an invite code for a new device.
    Invite {
        /// How long the code stays valid, e.g. 30m, 24h, 7d.
        #[arg(long, default_value = "24h", value_parser = parse_duration_ms)]
        expires: i64,
        /// How many devices may use it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// A campaign the joiners are added to (repeat; default: the
        /// team's oldest campaign).
        #[arg(long = "campaign", value_name = "CAMPAIGN")]
        campaigns: Vec<String>,
    },
    /// List the invites that can still admit a device.
    Invites,
    /// Cancel an open invite (supervisors): its id as `team invites` shows it.
    CancelInvite { invite: String },
    /// Join a team with an invite code, sync everything, and exit.
    Join {
        code: String,
        /// Your agent name.
        #[arg(long)]
        agent: String,
        /// Extra addresses to try (besides those in the code).
        #[arg(long = "peer", value_name = "MULTIADDR")]
        peers: Vec<String>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// List devices and agents with their online state.
    Members,
    /// The teammates this running node is linked with now: address, and
    /// whether the link is direct or through a relay.
    Peers,
    /// Remove a device from the roster (supervisors only).
    Revoke { device: String },
}

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Add a campaign.
    Add(CampaignAddArgs),
    /// List campaigns.
    List,
    /// Show one campaign.
    Show { name: String },
    /// Change a campaign's settings (supervisors): only what is given
    /// changes; a repeated option replaces its whole list.
    Edit(CampaignEditArgs),
}

#[derive(Debug, Args)]
pub struct CampaignEditArgs {
    /// The campaign's name or id.
    pub campaign: String,
    /// A new name.
    #[arg(long)]
    pub rename: Option<String>,
    #[arg(long, value_parser = parse_strategy)]
    pub strategy: Option<Strategy>,
    /// The members in their new routing order (repeat).
    #[arg(long = "member", value_name = "AGENT")]
    pub members: Vec<String>,
    /// The dispositions (repeat).
    #[arg(long = "disposition", value_name = "D")]
    pub dispositions: Vec<String>,
    /// The form fields, `NAME` or `NAME:required` (repeat).
    #[arg(long = "field", value_name = "NAME[:required]", value_parser = parse_field)]
    pub fields: Vec<FormField>,
    /// Remove every form field.
    #[arg(long, conflicts_with = "fields")]
    pub no_fields: bool,
    /// Open interactions per agent in this campaign (0: no limit).
    #[arg(long)]
    pub capacity: Option<u32>,
    #[arg(long)]
    pub auto_accept: Option<bool>,
    /// Service level target, in seconds (0: none).
    #[arg(long = "sla")]
    pub sla_seconds: Option<u32>,
    /// Wrap-up time after finalize, in seconds.
    #[arg(long = "wrapup")]
    pub wrapup_seconds: Option<u32>,
    /// How long a push offer waits for an answer, in seconds.
    #[arg(long = "offer-timeout")]
    pub offer_timeout_seconds: Option<u32>,
    #[command(flatten)]
    pub hours: HoursArgs,
    /// Open at all hours again (no closed message).
    #[arg(long, conflicts_with = "hours")]
    pub always_open: bool,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Change a teammate (supervisors): only what is given changes.
    Edit(AgentEditArgs),
    /// Open interactions the agent may hold across campaigns (0: no limit).
    Capacity { agent: String, capacity: u32 },
    /// Set a teammate Offline whose machine is gone, so routing stops
    /// offering them work.
    Offline { agent: String },
}

#[derive(Debug, Args)]
pub struct AgentEditArgs {
    /// The agent's name or id.
    pub agent: String,
    /// `agent` or `supervisor`, for every device of the agent's.
    #[arg(long, value_parser = parse_role)]
    pub role: Option<Role>,
    /// Open interactions the agent may hold across campaigns (0: no limit).
    #[arg(long)]
    pub capacity: Option<u32>,
    /// The campaigns the agent is in, whole (repeat): it joins the new ones
    /// last in routing order and leaves the others.
    #[arg(long = "campaign", value_name = "CAMPAIGN")]
    pub campaigns: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum BreakReasonCommand {
    /// A reason agents can pick when they take a break (supervisors).
    Add { name: String },
    /// Remove one; breaks already taken keep their reason.
    Remove { name: String },
}

#[derive(Debug, Args)]
pub struct CampaignAddArgs {
    #[arg(long)]
    pub name: String,
    #[arg(long, value_parser = parse_channel)]
    pub channel: ChannelKind,
    #[arg(long, value_parser = parse_strategy)]
    pub strategy: Strategy,
    /// A member agent, in routing order (repeat); default: you.
    #[arg(long = "member", value_name = "AGENT")]
    pub members: Vec<String>,
    /// A disposition (repeat); default: Resolved, Callback, No answer.
    #[arg(long = "disposition", value_name = "D")]
    pub dispositions: Vec<String>,
    /// A form field, `NAME` or `NAME:required` (repeat).
    #[arg(long = "field", value_name = "NAME[:required]", value_parser = parse_field)]
    pub fields: Vec<FormField>,
    /// Open interactions per agent in this campaign (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub capacity: u32,
    #[arg(long)]
    pub auto_accept: bool,
    /// Service level target, in seconds.
    #[arg(long = "sla", default_value_t = 0)]
    pub sla_seconds: u32,
    /// Wrap-up time after finalize, in seconds.
    #[arg(long = "wrapup", default_value_t = 0)]
    pub wrapup_seconds: u32,
    /// How long a push offer waits for an answer, in seconds.
    #[arg(long = "offer-timeout")]
    pub offer_timeout_seconds: Option<u32>,
    #[command(flatten)]
    pub hours: HoursArgs,
}

/// Business hours: the webchat widget shows the closed message outside them.
#[derive(Debug, Args, Default)]
pub struct HoursArgs {
    /// When the campaign answers, e.g. "mon-fri 09:00-18:00; sat 10:00-14:00".
    #[arg(long, value_name = "WEEK")]
    pub hours: Option<String>,
    /// The hours' time zone (IANA), e.g. Europe/Madrid.
    #[arg(long, value_name = "ZONE", default_value = "UTC", requires = "hours")]
    pub zone: String,
    /// What visitors read outside the hours.
    #[arg(long, value_name = "TEXT", requires = "hours")]
    pub closed_message: Option<String>,
}

impl HoursArgs {
    pub fn business_hours(self) -> Option<meshdesk_model::hours::BusinessHours> {
        self.hours.map(|week| meshdesk_model::hours::BusinessHours {
            zone: self.zone,
            week,
            closed_message: self.closed_message.unwrap_or_default(),
        })
    }
}

#[derive(Debug, Args, Default)]
pub struct ContactFields {
    #[arg(long = "phone", value_name = "P")]
    pub phones: Vec<String>,
    #[arg(long = "email", value_name = "E")]
    pub emails: Vec<String>,
    #[arg(long)]
    pub company: Option<String>,
    #[arg(long = "tag", value_name = "T")]
    pub tags: Vec<String>,
    #[arg(long)]
    pub notes: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Add a contact.
    Add {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fields: ContactFields,
    },
    /// List contacts in name order.
    List {
        #[arg(long)]
        search: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a contact with its interactions.
    Show { id: String },
    /// Change a contact: given lists replace the stored ones.
    Edit {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: ContactFields,
    },
    /// Delete a contact.
    Delete { id: String },
    /// Merge two entries of one customer: ABSORBED leaves the phonebook and
    /// its interactions, phones, emails and tags show under SURVIVOR.
    /// Nothing is deleted; `contact unmerge ABSORBED` undoes it.
    Merge {
        /// The contact that stays (its name and company win).
        survivor: String,
        /// The contact merged into it.
        absorbed: String,
    },
    /// Undo a merge: the contact is listed again with its own interactions.
    Unmerge { id: String },
}

#[derive(Debug, Subcommand)]
pub enum InteractionCommand {
    /// Start an outbound interaction, active and owned by you.
    New {
        #[arg(long, value_parser = parse_channel)]
        channel: ChannelKind,
        #[arg(long)]
        campaign: String,
        #[arg(long, conflicts_with = "to", required_unless_present = "to")]
        contact: Option<String>,
        #[arg(long)]
        to: Option<String>,
        /// A form field value, `KEY=VALUE` (repeat).
        #[arg(long = "field", value_name = "K=V", value_parser = parse_key_value)]
        fields: Vec<(String, String)>,
        #[arg(long)]
        message: Option<String>,
    },
    /// Put a customer request into a campaign's queue.
    Enqueue {
        #[arg(long)]
        campaign: String,
        #[arg(long, conflicts_with = "from", required_unless_present = "from")]
        contact: Option<String>,
        #[arg(long)]
        from: Option<String>,
        /// The customer's name when they are not in the phonebook.
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        message: Option<String>,
        /// Lower runs first.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i32,
    },
    /// List interactions of a tab. History shows your closed interactions
    /// (--team: everyone's), narrowed by any of its filters and the search.
    List {
        #[arg(long, default_value = "active")]
        tab: meshdesk_model::ops::Tab,
        #[arg(long)]
        search: Option<String>,
        #[command(flatten)]
        history: HistoryArgs,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show an interaction with its messages.
    Show { id: String },
    /// Send a message to the customer, with files (`--file`, repeatable;
    /// the text may then be left out).
    Send {
        id: String,
        text: Option<String>,
        /// A file to attach (at most 10; each up to this device's limit,
        /// `max_file_bytes` in files.json, 20 MiB by default).
        #[arg(long = "file", value_name = "PATH")]
        files: Vec<PathBuf>,
    },
    /// Add an internal note.
    Note { id: String, text: String },
    /// Tag an interaction.
    Tag { id: String, tag: String },
    /// Remove a tag from an interaction.
    Untag { id: String, tag: String },
    /// Close an interaction with a disposition.
    Finalize {
        id: String,
        #[arg(long)]
        disposition: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Take a queued interaction.
    Accept { id: String },
    /// Refuse an offered interaction.
    Decline { id: String },
    /// Hand an interaction to an agent or back to a campaign's queue.
    Transfer {
        id: String,
        #[arg(
            long,
            conflicts_with = "campaign",
            required_unless_present = "campaign"
        )]
        agent: Option<String>,
        #[arg(long)]
        campaign: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Give an interaction you own back to its campaign's queue.
    Return {
        id: String,
        /// Why (shown in the interaction's history).
        #[arg(long)]
        reason: String,
    },
    /// Set an interaction you own aside until a time: it leaves Active and
    /// comes back, with a notification, when due (see `--tab snoozed`).
    Snooze {
        id: String,
        /// When it comes back: `YYYY-MM-DD HH:MM` (local time) or RFC 3339.
        #[arg(long, conflicts_with = "for_", required_unless_present = "for_")]
        until: Option<String>,
        /// How long from now: like 45m, 2h, 1h30m, 3d.
        #[arg(long = "for", id = "for_", value_name = "LENGTH")]
        for_: Option<String>,
        /// A callback to the customer is scheduled then.
        #[arg(long)]
        callback: bool,
        /// What to do when it comes back (at most 500 characters).
        #[arg(long)]
        note: Option<String>,
    },
    /// Bring a snoozed interaction back to Active now.
    Unsnooze { id: String },
    /// Your snoozes that came due and this device has not announced yet
    /// (each is listed once per device).
    Due,
    /// Supervisors: take an interaction from its agent back to its queue.
    Pull {
        id: String,
        /// Why (the agent who loses it is told).
        #[arg(long)]
        reason: String,
    },
    /// Supervisors: take an interaction from its agent and offer it to another.
    Hand {
        id: String,
        /// The agent to offer it to.
        #[arg(long)]
        to: String,
        /// Why (the agent who loses it is told).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RouteCommand {
    /// Why each queued interaction goes to whom.
    Explain {
        #[arg(long)]
        campaign: Option<String>,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ChatWith {
    #[arg(long)]
    pub agent: Option<String>,
    #[arg(long)]
    pub campaign: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ChatCommand {
    /// Send a chat message.
    Send {
        #[command(flatten)]
        with: ChatWith,
        text: String,
    },
    /// Show a conversation.
    Show {
        #[command(flatten)]
        with: ChatWith,
    },
}

#[derive(Debug, Subcommand)]
pub enum StatusCommand {
    /// Set your status.
    #[command(subcommand)]
    Set(StatusSet),
    /// Show your status.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum StatusSet {
    Available,
    Break {
        #[arg(long)]
        reason: Option<String>,
    },
    Offline,
}

#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Address to listen on (repeat), e.g. /ip4/0.0.0.0/tcp/4001.
    #[arg(long = "listen", value_name = "MULTIADDR", required = true)]
    pub listen: Vec<String>,
    /// An address members reach the relay at besides its listen addresses,
    /// e.g. a public one in front of a port forward (repeat).
    #[arg(long = "announce", value_name = "MULTIADDR")]
    pub announce: Vec<String>,
    /// The team key: a copy of `team.psk` from a member's data dir. Read
    /// again every 30 s, so a rotated key can be copied over it.
    #[arg(long = "team-key", value_name = "FILE")]
    pub team_key: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Address to listen on (repeat).
    #[arg(long = "listen", value_name = "MULTIADDR")]
    pub listen: Vec<String>,
    /// A peer to dial (repeat).
    #[arg(long = "peer", value_name = "MULTIADDR")]
    pub peers: Vec<String>,
    /// A relay (`meshdesk relay`) to reach teammates on other sites through,
    /// ending in /p2p/<relay id> (repeat); remembered for later starts.
    #[arg(long = "relay", value_name = "MULTIADDR")]
    pub relays: Vec<String>,
    /// Do not discover peers on the LAN.
    #[arg(long)]
    pub no_mdns: bool,
    /// Serve the webchat widget and the REST API on this address.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
}

fn parse_channel(s: &str) -> Result<ChannelKind, String> {
    s.parse()
        .map_err(|e: meshdesk_model::UnknownVariant| e.to_string())
}

fn parse_strategy(s: &str) -> Result<Strategy, String> {
    s.parse()
        .map_err(|e: meshdesk_model::UnknownVariant| e.to_string())
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|e: meshdesk_model::UnknownVariant| e.to_string())
}

fn parse_field(s: &str) -> Result<FormField, String> {
    let field: FormField = s.parse().map_err(|_| "bad field".to_string())?;
    if field.name.is_empty() {
        return Err("a field needs a name".into());
    }
    Ok(field)
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

/// `90s`, `30m`, `24h`, `7d` (or plain seconds) as milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (try 30m, 24h, 7d)"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{s}` is not a duration (try 30m, 24h, 7d)")),
    };
    if n <= 0 {
        return Err("a duration must be positive".into());
    }
    n.checked_mul(seconds * 1000)
        .ok_or_else(|| "duration too long".to_string())
}

/// History's filters (`interaction list --tab history`). Values are checked
/// when the request is made, so a bad one is refused in one line.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct HistoryArgs {
    /// History: only your closed interactions (the default).
    #[arg(long, conflicts_with = "team")]
    pub mine: bool,
    /// History: every closed interaction of the team.
    #[arg(long)]
    pub team: bool,
    /// History: only this campaign's (name or id).
    #[arg(long)]
    pub campaign: Option<String>,
    /// History: only this channel's (phone, webchat, api, email, internal).
    #[arg(long)]
    pub channel: Option<String>,
    /// History: only those closed with this disposition.
    #[arg(long)]
    pub disposition: Option<String>,
    /// History: only those with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// History: closed on or after this day (YYYY-MM-DD, local time) or time (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// History: closed on or before this day (YYYY-MM-DD, the whole day) or before this time.
    #[arg(long)]
    pub until: Option<String>,
}

impl HistoryArgs {
    /// Whether any History flag was given.
    pub fn given(&self) -> bool {
        self.mine
            || self.team
            || self.campaign.is_some()
            || self.channel.is_some()
            || self.disposition.is_some()
            || self.tag.is_some()
            || self.since.is_some()
            || self.until.is_some()
    }

    /// The filter the flags ask for; dates are read in the local time zone.
    pub fn filter(&self) -> Result<meshdesk_model::ops::HistoryFilter, String> {
        use meshdesk::dates::{self, End};
        use meshdesk_model::ops::{HistoryFilter, Whose};
        let date = |raw: &Option<String>, end| {
            raw.as_deref()
                .map(|d| dates::parse(d, end, &chrono::Local).map_err(|e| e.to_string()))
                .transpose()
        };
        Ok(HistoryFilter {
            whose: if self.team { Whose::Team } else { Whose::Mine },
            campaign: self.campaign.clone(),
            channel: self.channel.as_deref().map(parse_channel).transpose()?,
            disposition: self.disposition.clone(),
            tag: self.tag.clone(),
            since: date(&self.since, End::Since)?,
            until: date(&self.until, End::Until)?,
        })
    }
}

/// Paging of a list: with either flag, one page is shown with the list's total.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct PageArgs {
    /// Rows to skip from the top of the list.
    #[arg(long)]
    pub offset: Option<usize>,
    /// Most rows to show.
    #[arg(long)]
    pub limit: Option<usize>,
}

impl PageArgs {
    /// `(offset, limit)` when a page was asked for.
    pub fn page(self) -> Option<(usize, usize)> {
        (self.offset.is_some() || self.limit.is_some()).then(|| {
            (
                self.offset.unwrap_or(0),
                self.limit
                    .unwrap_or(meshdesk_model::ops::DEFAULT_LIST_LIMIT),
            )
        })
    }
}
