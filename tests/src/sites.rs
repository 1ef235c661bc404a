//! Two sites behind their own NATs and a relay host between them, made of
//! Linux network namespaces (needs root, `ip` and `iptables`):
//!
//! ```text
//!  site 1                                         site 2
//!  a 192.168.1.10 ─ r1 (NAT) 10.99.1.1 ─┐   ┌─ 10.99.2.1 r2 (NAT) ─ 192.168.2.10 b
//!                                  10.99.1.10 relay 10.99.2.10
//! ```
//!
//! Each router masquerades its site behind its outside address and drops
//! what arrives unasked, like a home router: the sites cannot dial each
//! other, only the relay host. With `symmetric` NATs each connection gets a
//! random outside port, so hole punching cannot work.

use std::process::Command;

/// The relay host's address as site 1 reaches it.
pub const RELAY_IP: &str = "10.99.1.10";

pub struct Sites {
    prefix: String,
}

impl Sites {
    /// Builds the namespaces `<prefix>-relay`, `-r1`, `-r2`, `-a`, `-b`.
    pub fn new(prefix: &str, symmetric: bool) -> Sites {
        let sites = Sites {
            prefix: prefix.into(),
        };
        sites.remove();
        for n in ["relay", "r1", "r2", "a", "b"] {
            run(&["ip", "netns", "add", &sites.ns(n)]);
            run(&["ip", "-n", &sites.ns(n), "link", "set", "dev", "lo", "up"]);
        }
        sites.link("relay", "rl1", "10.99.1.10/24", "r1", "wan", "10.99.1.1/24");
        sites.link("relay", "rl2", "10.99.2.10/24", "r2", "wan", "10.99.2.1/24");
        sites.link(
            "r1",
            "lan",
            "192.168.1.1/24",
            "a",
            "eth0",
            "192.168.1.10/24",
        );
        sites.link(
            "r2",
            "lan",
            "192.168.2.1/24",
            "b",
            "eth0",
            "192.168.2.10/24",
        );
        for (n, via) in [
            ("a", "192.168.1.1"),
            ("b", "192.168.2.1"),
            ("r1", "10.99.1.10"),
            ("r2", "10.99.2.10"),
        ] {
            run(&[
                "ip",
                "-n",
                &sites.ns(n),
                "route",
                "add",
                "default",
                "via",
                via,
            ]);
        }
        for n in ["relay", "r1", "r2"] {
            sites.exec(n, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        }
        for n in ["r1", "r2"] {
            let mut masquerade = vec![
                "iptables",
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-o",
                "wan",
                "-j",
                "MASQUERADE",
            ];
            if symmetric {
                masquerade.push("--random-fully");
            }
            sites.exec(n, &masquerade);
            for chain in [
                vec!["FORWARD", "-i", "wan", "-o", "lan"],
                vec!["INPUT", "-i", "wan"],
            ] {
                let mut rule = vec!["iptables", "-A"];
                rule.extend(chain);
                rule.extend(["-m", "conntrack", "--ctstate", "NEW,INVALID", "-j", "DROP"]);
                sites.exec(n, &rule);
            }
        }
        sites
    }

    /// The namespace of a host: `relay`, `r1`, `r2`, `a` or `b`.
    pub fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    /// The wrapper that runs a program on a host.
    pub fn on(&self, host: &str) -> Vec<String> {
        vec!["ip".into(), "netns".into(), "exec".into(), self.ns(host)]
    }

    fn exec(&self, host: &str, args: &[&str]) {
        let ns = self.ns(host);
        let mut all = vec!["ip", "netns", "exec", ns.as_str()];
        all.extend_from_slice(args);
        run(&all);
    }

    fn link(&self, h1: &str, if1: &str, addr1: &str, h2: &str, if2: &str, addr2: &str) {
        let (ns1, ns2) = (self.ns(h1), self.ns(h2));
        run(&[
            "ip", "link", "add", if1, "netns", &ns1, "type", "veth", "peer", "name", if2, "netns",
            &ns2,
        ]);
        for (ns, dev, addr) in [(&ns1, if1, addr1), (&ns2, if2, addr2)] {
            run(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
            run(&["ip", "-n", ns, "link", "set", "dev", dev, "up"]);
        }
    }

    fn remove(&self) {
        for n in ["relay", "r1", "r2", "a", "b"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(n)])
                .output();
        }
    }
}

impl Drop for Sites {
    fn drop(&mut self) {
        self.remove();
    }
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {args:?}: {e} (the sites need root, iproute2 and iptables)")
        });
    assert!(
        out.status.success(),
        "{args:?} failed: {} (the sites need root, iproute2 and iptables)",
        String::from_utf8_lossy(&out.stderr)
    );
}
