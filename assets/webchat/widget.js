// meshdesk webchat widget: no build step, no dependencies.
//
// Everything a person types, and everything an agent writes, is put on the
// page with textContent, never parsed as HTML: markup in a message shows as text.
(function () {
  "use strict";

  var parts = location.pathname.split("/").filter(Boolean); // ["chat", "<campaign>"]
  var campaign = decodeURIComponent(parts[1] || "");
  var base = "/chat/" + encodeURIComponent(campaign);
  var storeKey = "meshdesk.webchat." + campaign;

  var el = function (id) { return document.getElementById(id); };
  var session = load();
  var socket = null;
  var retries = 0;
  var closed = false;
  var seen = new Set();
  var typingTimer = null;
  var lastTypingSent = 0;

  function load() {
    try {
      var s = JSON.parse(localStorage.getItem(storeKey) || "null");
      return s && typeof s.token === "string" ? s : null;
    } catch (e) {
      return null;
    }
  }

  function save(s) {
    session = s;
    try {
      if (s) localStorage.setItem(storeKey, JSON.stringify(s));
      else localStorage.removeItem(storeKey);
    } catch (e) { /* private mode: the chat still works until reload */ }
  }

  function setStatus(text) { el("status").textContent = text; }

  function showForm() {
    el("conversation").hidden = true;
    el("start-form").hidden = false;
    setStatus("We usually answer within minutes.");
    el("name").focus();
  }

  function showConversation() {
    el("start-form").hidden = true;
    el("conversation").hidden = false;
  }

  function scrollDown() {
    var list = el("messages");
    list.scrollTop = list.scrollHeight;
  }

  function timeText(at) {
    var d = new Date(at);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function addMessage(m) {
    if (!m || seen.has(m.id)) return;
    seen.add(m.id);
    var li = document.createElement("li");
    li.className = "message " + (m.author === "visitor" || m.author === "agent" ? m.author : "system");
    li.dataset.id = m.id;
    var who = document.createElement("span");
    who.className = "author";
    who.textContent = m.author === "visitor" ? "You" : m.author === "agent" ? (m.name || "Agent") : "";
    var body = document.createElement("p");
    body.className = "body";
    body.textContent = m.body;
    var time = document.createElement("time");
    time.dateTime = new Date(m.at).toISOString();
    time.textContent = timeText(m.at);
    li.append(who, body);
    (m.files || []).forEach(function (f) { li.append(fileView(f)); });
    li.append(time);
    el("messages").appendChild(li);
    if (m.author === "agent") hideTyping();
    scrollDown();
  }

  var IMAGES = ["image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"];

  function sizeText(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return Math.round(n / 1024) + " KB";
    return (n / (1024 * 1024)).toFixed(1) + " MB";
  }

  // A file of the conversation: fetched with the visitor's token (never a
  // token in a URL), shown from a blob: URL; pictures inline, anything
  // else as a named download.
  function fileView(f) {
    var box = document.createElement("div");
    box.className = "file";
    box.dataset.hash = f.hash;
    var link = document.createElement("a");
    link.className = "file-name";
    link.textContent = f.name + " (" + sizeText(f.size) + ")";
    link.href = "#";
    box.append(link);
    var fetched = null;
    function bytes() {
      if (!fetched) {
        fetched = fetch(base + "/files/" + encodeURIComponent(f.hash), {
          headers: session ? { authorization: "Bearer " + session.token } : {},
        }).then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.blob();
        }).then(function (b) { return URL.createObjectURL(b); });
      }
      return fetched;
    }
    link.addEventListener("click", function (ev) {
      ev.preventDefault();
      bytes().then(function (url) {
        var a = document.createElement("a");
        a.href = url;
        a.download = f.name;
        document.body.appendChild(a);
        a.click();
        a.remove();
      }).catch(function () { link.textContent = f.name + " (not available)"; });
    });
    if (IMAGES.indexOf(f.mime) >= 0) {
      var img = document.createElement("img");
      img.className = "thumbnail";
      img.alt = f.name;
      box.prepend(img);
      bytes().then(function (url) { img.src = url; }).catch(function () { img.remove(); });
    }
    return box;
  }

  function addNotice(text) {
    var li = document.createElement("li");
    li.className = "notice";
    li.textContent = text;
    el("messages").appendChild(li);
    scrollDown();
  }

  function hideTyping() {
    el("typing").hidden = true;
    if (typingTimer) clearTimeout(typingTimer);
    typingTimer = null;
  }

  function showTyping(name) {
    if (closed) return;
    el("typing").textContent = (name || "The agent") + " is typing…";
    el("typing").hidden = false;
    if (typingTimer) clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 4000);
  }

  function setClosed() {
    closed = true;
    hideTyping();
    el("closed").hidden = false;
    el("composer").hidden = true;
    setStatus("This chat is closed");
    if (socket) socket.close();
  }

  function applyState(state, agent) {
    if (state === "closed") setClosed();
    else if (state === "active") setStatus((agent || "An agent") + " is with you");
    else setStatus("Waiting for an agent…");
  }

  function render(t) {
    el("messages").textContent = "";
    seen.clear();
    (t.messages || []).forEach(addMessage);
    applyState(t.state, t.agent);
  }

  function call(method, path, body) {
    var headers = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (session) headers.authorization = "Bearer " + session.token;
    return fetch(base + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) {
        if (!r.ok) {
          var err = new Error(json.error || ("HTTP " + r.status));
          err.status = r.status;
          throw err;
        }
        return json;
      });
    });
  }

  function forget() {
    save(null);
    if (socket) socket.close();
    socket = null;
    closed = false;
    el("messages").textContent = "";
    seen.clear();
    el("closed").hidden = true;
    el("composer").hidden = false;
    showForm();
  }

  function connect() {
    if (!session || closed) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + base + "/ws");
    socket = ws;
    ws.onopen = function () {
      retries = 0;
      ws.send(JSON.stringify({ type: "hello", token: session.token }));
    };
    ws.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      switch (msg.type) {
        case "transcript": render(msg); break;
        case "message": addMessage(msg.message); break;
        case "agent-joined":
          addNotice(msg.name + " joined the chat");
          setStatus(msg.name + " is with you");
          break;
        case "typing": showTyping(msg.name); break;
        case "closed": setClosed(); break;
        case "error":
          if (/token/.test(msg.error || "")) forget();
          break;
      }
    };
    ws.onclose = function () {
      if (socket !== ws) return;
      socket = null;
      if (closed || !session) return;
      var wait = Math.min(1000 * Math.pow(2, retries), 15000);
      retries += 1;
      setTimeout(connect, wait);
    };
  }

  function refresh() {
    return call("GET", "/transcript").then(render);
  }

  el("start-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var name = el("name").value.trim();
    var email = el("email").value.trim();
    var text = el("first-message").value;
    el("start-error").textContent = "";
    if (!name) { el("start-error").textContent = "Please give your name."; return; }
    if (!text.trim()) { el("start-error").textContent = "Please write a message."; return; }
    el("start-button").disabled = true;
    call("POST", "/start", { name: name, email: email || null, text: text })
      .then(function (r) {
        save({ token: r.token, interaction: r.interaction });
        el("first-message").value = "";
        showConversation();
        setStatus("Waiting for an agent…");
        connect();
      })
      .catch(function (e) { el("start-error").textContent = e.message; })
      .finally(function () { el("start-button").disabled = false; });
  });

  el("composer").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = el("text").value;
    if (!text.trim() || !session) return;
    el("send").disabled = true;
    el("send-error").textContent = "";
    call("POST", "/messages", { text: text })
      .then(function () {
        el("text").value = "";
        if (!socket || socket.readyState !== WebSocket.OPEN) return refresh();
      })
      .catch(function (e) {
        if (e.status === 409) setClosed();
        else if (e.status === 401) forget();
        else if (e.status === 429) el("send-error").textContent = "You are sending messages too fast; please wait a moment.";
        else el("send-error").textContent = e.message;
      })
      .finally(function () { el("send").disabled = false; el("text").focus(); });
  });

  el("file").addEventListener("change", function () {
    var input = el("file");
    var file = input.files && input.files[0];
    if (!file || !session) return;
    el("send-error").textContent = "";
    el("send").disabled = true;
    fetch(base + "/files?name=" + encodeURIComponent(file.name), {
      method: "POST",
      headers: { authorization: "Bearer " + session.token, "content-type": "application/octet-stream" },
      body: file,
    })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (json) {
          if (r.ok) {
            if (!socket || socket.readyState !== WebSocket.OPEN) return refresh();
            return;
          }
          if (r.status === 409) setClosed();
          else if (r.status === 401) forget();
          else if (r.status === 413) el("send-error").textContent = "That file is too large to send.";
          else if (r.status === 429) el("send-error").textContent = "You are sending messages too fast; please wait a moment.";
          else el("send-error").textContent = json.error || ("HTTP " + r.status);
        });
      })
      .catch(function (e) { el("send-error").textContent = e.message; })
      .finally(function () { input.value = ""; el("send").disabled = false; });
  });

  el("text").addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      el("composer").requestSubmit();
    }
  });

  el("text").addEventListener("input", function () {
    var now = Date.now();
    if (socket && socket.readyState === WebSocket.OPEN && now - lastTypingSent > 1500) {
      lastTypingSent = now;
      socket.send(JSON.stringify({ type: "typing" }));
    }
  });

  el("new-chat").addEventListener("click", forget);

  call("GET", "/info")
    .then(function (info) {
      el("title").textContent = info.campaign;
      document.title = info.campaign + " — chat";
      // Outside business hours: say so; a message left now waits in the queue.
      if (!info.open && info.closed_message) {
        el("after-hours").textContent = info.closed_message;
        el("after-hours").hidden = false;
      }
      if (!session) return showForm();
      showConversation();
      return refresh()
        .then(connect)
        .catch(function (e) {
          if (e.status === 401 || e.status === 404) forget();
          else setStatus(e.message);
        });
    })
    .catch(function () {
      el("start-form").hidden = true;
      el("conversation").hidden = true;
      el("unavailable").hidden = false;
      setStatus("");
    });
})();
