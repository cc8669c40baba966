/* The agents' sidebar (plugin/web/sidebar.py): reads the ticket through the ZAF client, shows Amends'
 * suggestion, renders the letter again when the agent changes category, audience or tone, and
 * on "Insert into reply" puts the letter into the agent's reply. It never sends the reply.
 *
 * ZAF calls (https://developer.zendesk.com/api-reference/apps/apps-support-api/ticket_sidebar/):
 * - client.get([...ticket paths]) for the ticket id and text;
 * - client.set('comment.type', 'publicReply') so the draft is a public reply, not a note;
 * - client.invoke('comment.appendText', letter): appends plain text, keeping the letter's line
 *   breaks. ticket.editor.insert takes HTML (sanitised, whitespace folded) at the cursor, so a
 *   plain-text letter would lose its paragraphs there.
 *
 * Every request to Amends carries the sidebar token in a header (not a cookie: we live in a
 * third-party iframe), and the account comes from that token on the server.
 * If window.ZAFClient already exists (a test's stub), the SDK is not loaded.
 */
(function () {
  "use strict";

  var body = document.body;
  var token = meta("amends-sidebar-token");
  var tokenHeader = meta("amends-sidebar-header");
  var state = { client: null, ticketId: "", ticket: {}, view: null, audience: "", tone: "" };

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : "";
  }

  function $(id) { return document.getElementById(id); }

  function say(text, kind) {
    var el = $("status");
    el.textContent = text;
    el.className = "notice" + (kind ? " " + kind : "");
    el.hidden = !text;
  }

  function loadZaf() {
    if (window.ZAFClient) { return Promise.resolve(window.ZAFClient); }
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = body.getAttribute("data-zaf-sdk");
      script.onload = function () { resolve(window.ZAFClient); };
      script.onerror = function () { reject(new Error("Zendesk's app SDK could not be loaded.")); };
      document.head.appendChild(script);
    });
  }

  function post(url, payload) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    headers[tokenHeader] = token;
    return fetch(url, { method: "POST", headers: headers, body: JSON.stringify(payload), credentials: "omit" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) { throw new Error(data.reason || ("Amends answered " + response.status)); }
          return data;
        });
      });
  }

  // ZAF path -> the name /zendesk/sidebar/* reads it under.
  var FIELDS = {
    "ticket.id": "id", "ticket.subject": "subject", "ticket.description": "description",
    "ticket.requester.id": "requester_id", "ticket.requester.name": "requester_name",
    "ticket.requester.email": "requester_email", "ticket.tags": "tags",
    "ticket.assignee.user.name": "assignee_name", "ticket.organization.name": "organization"
  };
  if (body.getAttribute("data-order-path")) { FIELDS[body.getAttribute("data-order-path")] = "order"; }

  function readTicket(client) {
    return client.get(Object.keys(FIELDS)).then(function (data) {
      var ticket = {};
      Object.keys(FIELDS).forEach(function (path) {
        var value = data[path];
        if (Array.isArray(value)) { value = value.join(","); }  // ticket.tags
        if (value !== undefined && value !== null) { ticket[FIELDS[path]] = String(value); }
      });
      if (!ticket.id) { throw new Error("Save the ticket first: Amends works on tickets that have a number."); }
      state.ticketId = ticket.id;
      delete ticket.id;
      state.ticket = ticket;
    });
  }

  function show(view) {
    state.view = view;
    var other = view.category === "other";
    $("category-label").textContent = view.label;
    $("confidence").textContent = view.chosen ? "Chosen by you" : other ? "" :
      view.general ? (view.complaint === null || view.complaint === undefined ? "Category unclear" :
                      "Complaint " + Number(view.complaint).toFixed(2) + " \u00b7 category unclear") :
      "Confidence " + Number(view.confidence).toFixed(2);
    $("source").textContent = view.source === "stored" ? " · the suggestion posted as a note" : "";
    $("decision").textContent = view.decision || "";
    $("decision").hidden = !view.decision;
    $("evidence").textContent = (view.evidence || []).map(function (e) { return "\u201c" + e + "\u201d"; }).join(", ");
    $("evidence-line").hidden = !(view.evidence && view.evidence.length);
    $("category").value = (other || view.general) ? "" : view.category;
    var candidates = $("candidates");
    candidates.textContent = "";
    var offered = view.general && !view.chosen ? (view.candidates || []) : [];
    offered.forEach(function (candidate) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary candidate";
      button.setAttribute("data-category", candidate.category);
      button.textContent = candidate.label + " " + Number(candidate.score).toFixed(2);
      button.addEventListener("click", function () { choose(candidate.category); });
      candidates.appendChild(button);
    });
    $("candidates-box").hidden = !offered.length;
    check("audience", view.audience);
    check("tone", view.tone);
    $("reading").hidden = false;

    $("letter-part").hidden = !view.letter;
    $("letter").textContent = view.letter || "";
    $("to-fill").textContent = (view.to_fill || []).join(", ");
    $("to-fill-box").hidden = !(view.to_fill && view.to_fill.length);
    $("compensation").textContent = view.compensation || "";
    $("compensation-line").hidden = !view.compensation;
    var lint = $("lint");
    lint.textContent = "";
    (view.lint || []).forEach(function (message) {
      var li = document.createElement("li");
      li.textContent = message;
      lint.appendChild(li);
    });
    lint.hidden = !(view.lint && view.lint.length);
    ["thumbs-up", "thumbs-down"].forEach(function (id) { $(id).setAttribute("aria-pressed", "false"); });
    document.querySelector("main").setAttribute("aria-busy", "false");
    resize();
  }

  function check(name, value) {
    document.querySelectorAll('input[name="' + name + '"]').forEach(function (input) {
      input.checked = input.value === value;
    });
  }

  function resize() {
    if (state.client) {
      state.client.invoke("resize", { width: "100%", height: document.body.scrollHeight + "px" });
    }
  }

  function payload(extra) {
    var data = { ticket_id: state.ticketId, ticket: state.ticket };
    Object.keys(extra || {}).forEach(function (key) { data[key] = extra[key]; });
    return data;
  }

  // Resolves to whether Amends recorded it. Only thumbs say so on the page: a correction or an
  // insert that was not recorded must not hide what the agent is doing.
  function feedback(kind, extra) {
    var data = { kind: kind, ticket_id: state.ticketId, category: state.view ? state.view.category : null };
    Object.keys(extra || {}).forEach(function (key) { data[key] = extra[key]; });
    return post(body.getAttribute("data-feedback-url"), data).then(function () { return true; }, function (error) {
      if (kind.indexOf("thumbs") === 0) { say("Your feedback was not recorded: " + error.message, "error"); }
      else if (window.console) { window.console.warn("Amends did not record " + kind + ": " + error.message); }
      return false;
    });
  }

  function render(category) {
    say("Writing the letter…");
    return post(body.getAttribute("data-render-url"),
                payload({ category: category, audience: state.audience, tone: state.tone }))
      .then(function (view) { show(view); say(""); return view; });
  }

  function failed(error) { say(error.message, "error"); }

  // The agent picks a category (from the list, or one of the likely ones under a general
  // letter): its letter is written, and a different category is recorded as a correction.
  function choose(to) {
    var from = state.view ? state.view.category : null;
    var wasGeneral = state.view && state.view.general;
    render(to).then(function () {
      if (to !== from || wasGeneral) {
        feedback("correction", { from_category: from, category: to,
                                 subject: state.ticket.subject || "", description: state.ticket.description || "" });
      }
    }).catch(failed);
  }

  $("category").addEventListener("change", function (event) { choose(event.target.value); });

  ["audience", "tone"].forEach(function (name) {
    document.querySelectorAll('input[name="' + name + '"]').forEach(function (input) {
      input.addEventListener("change", function () {
        state[name] = input.value;
        if (state.view && state.view.category !== "other") {
          render(state.view.general ? "general" : state.view.category).catch(failed);
        }
      });
    });
  });

  $("insert").addEventListener("click", function () {
    var letter = state.view && state.view.letter;
    if (!letter || !state.client) { return; }
    var client = state.client;
    var publicReply = Promise.resolve(client.set("comment.type", "publicReply")).then(
      function () { return true; }, function () { return false; });
    publicReply.then(function (isPublic) {
      return Promise.resolve(client.invoke("comment.appendText", letter)).then(function () {
        say(isPublic ? "The letter is in your reply, as a public reply draft. Fill what is left, then send it."
                     : "The letter is in your reply. Check that it is a public reply before you send it.",
            isPublic ? "ok" : "error");
        feedback("insert");
      });
    }).catch(function (error) { say("The letter could not be inserted: " + (error && error.message || error), "error"); });
  });

  [["thumbs-up", "thumbs_up"], ["thumbs-down", "thumbs_down"]].forEach(function (pair) {
    $(pair[0]).addEventListener("click", function (event) {
      var button = event.currentTarget;
      ["thumbs-up", "thumbs-down"].forEach(function (id) { $(id).setAttribute("aria-pressed", String(id === pair[0])); });
      feedback(pair[1]).then(function (recorded) {
        if (recorded) { say("Thank you: your feedback is recorded.", "ok"); }
        button.focus();
      });
    });
  });

  loadZaf()
    .then(function (ZAFClient) {
      state.client = ZAFClient.init();
      if (!state.client) { throw new Error("Open this page from the Amends app in a Zendesk ticket."); }
      return readTicket(state.client);
    })
    .then(function () { return post(body.getAttribute("data-suggestion-url"), payload()); })
    .then(function (view) { show(view); say(""); })
    .catch(failed);
}());
