// The advisor's desk: presence, requests ringing, and each conversation side by side.
import { Alarm, askToNotify } from "./attention.js";
import { ChatView, SYNC_MS, atMostEvery, composer, resend, resume } from "./chat.js";
import { setIceServers } from "./ice.js";
import { CallPanel } from "./call_panel.js";
import { PhoneDock } from "./phone_dock.js";
import { SecurePanel } from "./secure_chat.js";
import { TransferTools, cameFrom, cannedReplies, waited } from "./desk_tools.js";
import { PortalSocket } from "./socket.js";
import { gettext, interpolate, ngettext } from "./i18n.js";

const ringing = document.getElementById("ringing");
const nothing = document.getElementById("nothing-ringing");
const presence = document.getElementById("presence");
const template = document.getElementById("conversation-template");
const alarm = new Alarm(); // a request ringing while the desk's tab is hidden
const panes = new Map(); // request id -> { root, chat, typingTimer }
// The messages left on the help page and not yet answered, per queue, as the inbox link says.
const unanswered = JSON.parse(document.getElementById("unanswered-by-queue").textContent);
const lines = new Map(); // queue id -> the requests waiting in it
// Whole sentences per reason, so that a translation need not fit a clause into an English frame.
const RING_OVER = {
  missed: gettext("#%(id)s stopped ringing: you missed it."),
  declined: gettext("#%(id)s stopped ringing: you declined it."),
  left: gettext("#%(id)s stopped ringing: the customer left."),
  away: gettext("#%(id)s stopped ringing: you are away."),
  busy: gettext("#%(id)s stopped ringing: you are busy."),
  offline: gettext("#%(id)s stopped ringing: you are offline."),
  "desk closed": gettext("#%(id)s stopped ringing: your desk closed."),
};
// The desk's own words for its registration, lower case as they follow "My IMS identity: <impu>".
const STATES = { unregistered: gettext("unregistered"), registering: gettext("registering"), registered: gettext("registered"),
  deregistering: gettext("deregistering"), failed: gettext("failed") };
const MODES = { chat: gettext("chat"), voice: gettext("voice"), video: gettext("video") };
const mode = (request) => (request.secure ? interpolate(gettext("%(mode)s (secure)"), { mode: MODES[request.mode] || request.mode })
  : MODES[request.mode] || request.mode);

// Who is waiting in the advisor's queues, for how long, and for what.
function showLine() {
  const list = document.getElementById("line");
  const waiting = [...lines.values()].flat().sort((a, b) => Date.parse(a.since) - Date.parse(b.since));
  list.replaceChildren(...waiting.map((entry) => {
    const item = document.createElement("li");
    item.dataset.request = entry.id;
    const parts = [`#${entry.id}`, entry.who ?? gettext("Guest"), mode(entry), interpolate(gettext("waiting %(time)s"), { time: waited(entry.since) }),
      cameFrom({ came_from: entry.came_from })];
    if (entry.ringing) parts.push(interpolate(gettext("ringing %(advisor)s"), { advisor: entry.ringing }));
    else if (!entry.here) parts.push(gettext("page closed"));
    item.textContent = parts.join(" · ");
    return item;
  }));
  document.getElementById("nobody-in-line").hidden = waiting.length > 0;
}
// What the ringing cards say of her wait goes on with the clock, as the line does.
function showWaits() {
  for (const span of ringing.querySelectorAll(".waited")) span.textContent = interpolate(gettext("waiting %(time)s"), { time: waited(span.dataset.since) });
}
setInterval(() => { showLine(); showWaits(); }, 15000);

function showPresence(value, reason) {
  presence.value = value;
  const notice = document.getElementById("presence-notice");
  notice.textContent = reason || "";
  notice.hidden = !reason;
}

function customerLeft(request) {
  const entry = panes.get(request.id);
  if (entry) entry.root.querySelector(".customer-left").hidden = !request.customer_left;
}

function stopTyping(entry) {
  clearTimeout(entry.typingTimer);
  entry.root.querySelector(".typing").hidden = true;
}

function ringingItem(request) {
  const item = document.createElement("li");
  item.dataset.request = request.id;
  item.append(Object.assign(document.createElement("span"), {
    textContent: `#${request.id} · ${request.queue} · ${mode(request)}` }));
  item.append(Object.assign(document.createElement("span"), { className: "came-from", textContent: cameFrom(request) }));
  const wait = Object.assign(document.createElement("span"), { className: "waited" });
  wait.dataset.since = request.created_at;
  item.append(wait);
  for (const [label, type] of [[gettext("Accept"), "help.accept"], [gettext("Decline"), "help.decline"]]) {
    const button = Object.assign(document.createElement("button"), { type: "button", textContent: label });
    button.addEventListener("click", () => socket.send({ type, request: request.id }));
    item.append(button);
  }
  return item;
}

function setRinging(request, on) {
  const known = ringing.querySelector(`[data-request="${request.id}"]`);
  known?.remove();
  if (on) ringing.append(ringingItem(request));
  showWaits();
  if (on && !known) alarm.start(request.id, gettext("Help request"), `#${request.id} · ${request.queue} · ${mode(request)}`);
  if (!on) alarm.stop(request.id);
  nothing.hidden = ringing.children.length > 0;
}

function pane(request) {
  const known = panes.get(request.id);
  if (known && !known.root.classList.contains("ended")) return known;
  known?.root.remove(); // handed on before, and back now: a fresh pane with the whole chat
  const root = template.content.firstElementChild.cloneNode(true);
  root.dataset.request = request.id;
  root.querySelector("h2").textContent = `#${request.id} · ${request.queue}`;
  const asked = interpolate(gettext("Asked %(from)s"), { from: cameFrom(request) });
  root.querySelector(".came-from").textContent = request.accepted_at
    ? `${asked} · ${interpolate(gettext("waited %(time)s"), { time: waited(request.created_at, request.accepted_at) })}` : asked;
  root.querySelector(".transcript").href = `/help/request/${request.id}/transcript.txt`;
  const chat = new ChatView(root.querySelector(".messages"), {
    mine: (m) => m.from_advisor,
    retry: (clientId) => socket.send({ type: "chat.retry", request: request.id, client_id: clientId }),
  });
  const form = root.querySelector(".chat-form");
  composer(form, chat, (id, body) => socket.send({ type: "chat.send", request: request.id, client_id: id, body }));
  cannedReplies(root, request.queue_id);
  const typing = atMostEvery(2000, () => socket.send({ type: "chat.typing", request: request.id }));
  form.elements.body.addEventListener("input", typing);
  root.querySelector(".close-form").addEventListener("submit", (event) => {
    event.preventDefault();
    socket.send({ type: "help.close", request: request.id, wrap_up: event.target.elements.wrap_up.value });
  });
  document.getElementById("conversations").append(root);
  const send = (event) => socket.send({ ...event, request: request.id });
  const calls = new CallPanel(root, { list: chat.list, send, allows: request.calls, stats: true });
  const secure = new SecurePanel(root, { list: chat.list, send, allowed: request.secure_chat, other: "the customer" });
  const transfer = new TransferTools(root, request.id, (event) => socket.send(event));
  const entry = { root, chat, calls, secure, transfer };
  panes.set(request.id, entry);
  socket.send({ type: "chat.resume", request: request.id, after: 0 });
  return entry;
}

// A conversation that ended takes no more messages: no composer, no Send, a line saying so.
function ended(entry) {
  entry.root.classList.add("ended");
  entry.root.querySelector(".chat-form").hidden = true;
  entry.root.querySelector(".close-form").hidden = true;
  entry.root.querySelector(".ended-note").hidden = false;
  entry.transfer.close();
}

// Handed to another advisor or queue: the pane stays to read, saying where it went.
function handedOn(entry, to) {
  ended(entry);
  entry.root.querySelector(".ended-note").hidden = true;
  const note = entry.root.querySelector(".transferred-note");
  note.textContent = interpolate(gettext("You handed this conversation to %(to)s."), { to });
  note.hidden = false;
}

// The ended conversation's summary: the customer's rating and comment, when she gives them.
function showRating(entry, rating) {
  const line = entry.root.querySelector(".rating");
  line.hidden = !rating;
  if (!rating) return;
  const score = interpolate(gettext("Customer's rating: %(score)s of 5"), { score: rating.score });
  line.textContent = rating.comment ? `${score} · “${rating.comment}”` : score;
}

// Ask for what the pane may have missed, after its unbroken run.
function syncPane(id, entry) {
  resume(entry.chat, (event) => socket.send({ ...event, request: id }));
}

setInterval(() => {
  if (document.body.dataset.live !== "yes") return;
  for (const [id, entry] of panes) if (!entry.root.classList.contains("ended")) syncPane(id, entry);
}, SYNC_MS);

const socket = new PortalSocket("/ws/desk/")
  .on("socket.open", () => {
    document.body.dataset.live = "yes";
    // What was not numbered goes again first, in the order written: before the frames the
    // socket queued while it was closed, which the server then knows by their client ids.
    for (const [id, entry] of panes) resend(entry.chat, (event) => socket.send({ ...event, request: id }));
  })
  .on("socket.closed", () => { document.body.dataset.live = "no"; })
  .on("desk.state", (state) => {
    presence.value = state.presence;
    lines.clear();
    for (const entry of state.line) lines.set(entry.queue, [...(lines.get(entry.queue) || []), entry]);
    showLine();
    for (const request of state.ringing) setRinging(request, true);
    for (const request of state.conversations) {
      const entry = panes.get(request.id);
      if (entry) syncPane(request.id, entry);
      else pane(request);
      customerLeft(request);
    }
  })
  .on("presence", (event) => showPresence(event.presence, ""))
  .on("help.presence", (event) => showPresence(event.presence, event.reason))
  .on("help.line", ({ queue, line }) => { lines.set(queue, line); showLine(); })
  .on("help.inbox", ({ queue, unanswered: count }) => {
    unanswered[queue] = count;
    const total = Object.values(unanswered).reduce((sum, n) => sum + n, 0);
    document.getElementById("inbox-link").textContent = interpolate(ngettext("Inbox (%(count)s unanswered)", "Inbox (%(count)s unanswered)", total), { count: total });
  })
  .on("ice.servers", ({ servers, expires, policy }) => setIceServers(servers, expires, policy))
  .on("call.placed", (event) => panes.get(event.request)?.calls.placed(event))
  .on("call.refused", (event) => panes.get(event.request)?.calls.refused(event))
  .on("ims.call", (event) => {
    // A conversation's call in its pane; any other of the advisor's identity (a colleague's, one
    // from the IMS) in the dock, which rings like every other window of theirs.
    if (event.request === null || event.request === undefined) return dock.call(event);
    const entry = panes.get(event.request);
    if (entry && !entry.secure.handles(event)) entry.calls.handle(event);
  })
  .on("ims.message", (event) => dock.message(event))
  .on("secure.placed", (event) => panes.get(event.request)?.secure.placed(event))
  .on("secure.refused", (event) => panes.get(event.request)?.secure.refused(event))
  .on("secure.segment", (event) => panes.get(event.request)?.secure.segment(event))
  .on("identity.changed", (event) => {
    document.getElementById("impu").textContent = event.impu;
    const state = document.getElementById("registration-state");
    // identity_blocks.actions.UNREACHABLE: registering again, and the core does not answer.
    const unreachable = event.state === "registering" && event.error === "the core is unreachable";
    state.textContent = unreachable ? gettext("the core is unreachable") : STATES[event.state] || event.state;
    state.className = `state state-${unreachable ? "unreachable" : event.state}`;
  })
  .on("help.ringing", ({ request }) => setRinging(request, true))
  .on("help.ring_over", ({ request, reason }) => {
    setRinging(request, false);
    document.getElementById("ring-notice").textContent = interpolate(RING_OVER[reason] || gettext("#%(id)s stopped ringing: %(reason)s."), { id: request.id, reason });
  })
  .on("help.conversation", ({ request }) => {
    setRinging(request, false);
    pane(request);
    document.getElementById("ring-notice").textContent = "";  // what stopped ringing before is answered
  })
  .on("help.transfer_options", (event) => panes.get(event.request)?.transfer.options(event))
  .on("help.transferred", ({ request, to }) => {
    const entry = panes.get(request);
    if (entry) handedOn(entry, to);
  })
  .on("help.request", ({ request }) => {
    customerLeft(request);
    if (request.status === "closed" || request.status === "abandoned") {
      const entry = panes.get(request.id);
      if (entry) { ended(entry); showRating(entry, request.rating); }
      setRinging(request, false);
    }
  })
  .on("chat.message", ({ request, message }) => {
    const entry = panes.get(request);
    if (!entry) return;
    entry.chat.show(message);
    if (!message.from_advisor) stopTyping(entry);  // what the customer was typing has arrived
    if (!message.from_advisor && message.seq) socket.send({ type: "chat.read", request, up_to: message.seq });
  })
  .on("chat.read", ({ request, up_to, by_advisor }) => { if (!by_advisor) panes.get(request)?.chat.read(up_to); })
  .on("chat.typing", ({ request, from_advisor }) => {
    const entry = panes.get(request);
    if (!entry || from_advisor) return;
    entry.root.querySelector(".typing").hidden = false;
    clearTimeout(entry.typingTimer);
    entry.typingTimer = setTimeout(() => stopTyping(entry), 3000);
  })
  .on("error", ({ reason }) => { document.getElementById("desk-error").textContent = reason; });

const dock = new PhoneDock((event) => socket.send(event));
presence.addEventListener("change", () => socket.send({ type: "presence.set", presence: presence.value }));
// Notifications of requests ringing while this tab is hidden: the browser asks on a click.
const notifications = document.getElementById("notifications");
notifications.hidden = !("Notification" in globalThis) || Notification.permission !== "default";
notifications.addEventListener("click", () => {
  askToNotify();
  notifications.hidden = true;
});
