// The secure chat line of a conversation (use case H.6): an RTCDataChannel end to end between the
// two browsers, DTLS keyed by them alone. Its session is set up like a call (call.js): the asker's
// offer goes through the IMS core in an INVITE, the other side accepts or stays in the standard
// chat, either side returns to it with a BYE. What is written on the line goes over the channel
// only: never over the portal's socket, and the portal stores none of it. Both screens show a
// short authentication string from the two DTLS fingerprints as each browser saw them; anything
// that altered a fingerprint on the way makes the two strings differ.
import { Call } from "./call.js";
import { announce } from "./chat.js";
import { gettext, interpolate } from "./i18n.js";
import { FILE_CHANNEL, FileViews, SecureFiles } from "./secure_files.js";

// Both sides open the same channel (negotiated, id 0): nothing waits for an announcement. Files
// take a second one (secure_files.js).
const CHANNEL = { negotiated: true, id: 0, ordered: true };
const NO_PATH = gettext("No end-to-end path could be made to the other side, so the secure chat is not open. "
  + "Nothing was sent on it; the standard chat goes on.");
// DTLS refused the certificate the other browser presented: it does not match the fingerprint
// that reached this browser through the signaling, so something on the way altered one of them.
// The line never opens (RFC 8842 §5: a mismatch ends the handshake), and nothing was sent on it.
const KEYS_ALTERED = gettext("Warning: the secure line's keys did not match — something on the way between you and the "
  + "other side altered them. The secure chat was not opened and nothing was sent on it; tell the other side "
  + "on a call or in person, and do not share anything private until this is resolved.");
const CODES_DIFFER = gettext("Warning: the security codes on your two screens differed, so someone may be reading the line. "
  + "The secure chat was closed; do not share anything private until this is resolved.");
const ENDINGS = {
  "hung up": gettext("You returned to the standard chat."),
  "the other side hung up": gettext("The other side returned to the standard chat."),
  declined: gettext("The other side stayed in the standard chat."),
  "no answer": gettext("The other side did not answer the switch."),
  cancelled: gettext("You cancelled the switch."),
  "cancelled by the caller": gettext("The other side cancelled the switch."),
  "the connection dropped": gettext("The secure line dropped and could not be restored; the standard chat goes on."),
  "the other side: the connection dropped": gettext("The secure line dropped and could not be restored; the standard chat goes on."),
  "the other side: no media path": NO_PATH,
};
// Endings that say the keys were not the ones the two browsers made: the loud warning.
const KEYS_DOUBTED = gettext("Warning: the secure line's keys did not match, as the other side found (in the handshake, or "
  + "by comparing the codes) — something on the way may have altered them. The secure chat was closed; do not share "
  + "anything private until this is resolved.");
const ALARMS = { "the keys did not match": KEYS_ALTERED, "the other side: the keys did not match": KEYS_DOUBTED };

// Whether an offer is a secure chat line: data channels over DTLS/SCTP (RFC 8841), no other media.
export function isSecureLine(sdp) {
  const sections = (sdp || "").match(/^m=.*$/gm) || [];
  return sections.length > 0 && sections.every((m) => /^m=application [1-9]\d* UDP\/DTLS\/SCTP webrtc-datachannel\b/.test(m));
}

// The session description's DTLS fingerprint, "sha-256 AB:CD:…", as written in it.
export function fingerprint(sdp) {
  const found = (sdp || "").match(/^a=fingerprint:(\S+) (\S+)/m);
  return found ? `${found[1].toLowerCase()} ${found[2].toUpperCase()}` : "";
}

// Six digits from SHA-256 over the two fingerprints, sorted so that both sides get the same.
export async function shortCode(own, received) {
  const both = new TextEncoder().encode([own, received].sort().join("\n"));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", both));
  const number = ((digest[0] << 24) | (digest[1] << 16) | (digest[2] << 8) | digest[3]) >>> 0;
  return String(number % 1000000).padStart(6, "0");
}

// The line: a Call whose connection carries the data channel instead of a microphone.
export class SecureLine extends Call {
  constructor({ send, onChange, onText, onFile }) {
    super({ send, onChange });
    this.onText = onText;
    this.onFile = onFile;
    this.files = null;
    this.noPath = NO_PATH;
    this.channel = null;
    this.code = "";
    this.verified = { mine: false, theirs: false };
    globalThis.portalSecureLine = this; // where tests and the console find it
  }

  async attach(pc) {
    this.channel = pc.createDataChannel("secure-chat", CHANNEL);
    this.channel.addEventListener("open", () => this.opened());
    this.channel.addEventListener("message", ({ data }) => this.received(data));
    this.channel.addEventListener("close", () => this.onChange(this));
    this.files = new SecureFiles(pc.createDataChannel("secure-files", FILE_CHANNEL), (transfer) => this.onFile(transfer, this.files));
  }

  // The channel is open at this end: DTLS accepted the other browser's keys. The portal's record
  // counts the line as a secure chat only once both ends have said so (help_desk/secure.py).
  async opened() {
    this.openedAt = Date.now();
    this.send({ type: "secure.opened" });
    await this.computeCode();
    this.onChange(this);
  }

  // The channel may open before the answer's setRemoteDescription has settled (DTLS on loopback is
  // that quick): the code is computed again once it has.
  async answered(sdp) {
    await super.answered(sdp);
    await this.computeCode();
    this.onChange(this);
  }

  // The code as this browser sees the two fingerprints; shown with the warning too, where it
  // differs from the other side's.
  async computeCode() {
    if (this.pc?.localDescription && this.pc.remoteDescription) {
      this.code = await shortCode(fingerprint(this.pc.localDescription.sdp), fingerprint(this.pc.remoteDescription.sdp));
    }
  }

  watch() {
    if (this.pc?.sctp?.transport?.state === "failed") this.alarm(KEYS_ALTERED, "the keys did not match");
    else super.watch();
  }

  // Ends the line with the loud warning: the keys were not the two browsers' own.
  async alarm(warning, cause) {
    if (this.state === "ended") return;
    this.warning = warning;
    await this.computeCode();
    this.failed(warning, cause);
  }

  get open() {
    return this.channel?.readyState === "open" && this.state !== "ended";
  }

  received(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message.kind === "text" && typeof message.body === "string") this.onText(message.body, false);
    if (message.kind === "verified") {
      this.verified.theirs = true;
      this.onChange(this);
    }
  }

  // Returns false when the line is not open: the text is then not sent anywhere else.
  write(body) {
    if (!this.open) return false;
    this.channel.send(JSON.stringify({ kind: "text", body }));
    this.onText(body, true);
    return true;
  }

  hangup() {
    const asking = ["new", "calling", "ringing"].includes(this.state);
    if (this.key) this.send({ type: "call.hangup", call: this.key });
    this.ended(asking ? gettext("You cancelled the switch.") : gettext("You returned to the standard chat."));
  }

  // Closing the connection here fires no close event on its channels: files still on the way stop.
  ended(reason) {
    super.ended(reason);
    this.files?.closed();
  }

  // The person heard a different code from the other side: someone may be between them.
  differ() {
    if (this.open) this.alarm(CODES_DIFFER, "the keys did not match");
  }

  verify() {
    if (!this.open) return;
    this.verified.mine = true;
    this.channel.send(JSON.stringify({ kind: "verified" }));
    this.send({ type: "secure.verified" });
    this.onChange(this);
  }
}

// What is said of the other side, in whole sentences: German words "the advisor" differently as
// subject and object, so no sentence is built around a name. `other` is as the page passes it.
function sayings(other) {
  if (other === "the advisor") {
    return { name: gettext("The advisor"), asking: gettext("Asking the advisor to switch to a secure chat…"),
      asks: gettext("The advisor asks to switch to a secure chat, end to end between your two browsers."),
      confirmed: gettext("The advisor confirmed the codes match.") };
  }
  if (other === "the customer") {
    return { name: gettext("The customer"), asking: gettext("Asking the customer to switch to a secure chat…"),
      asks: gettext("The customer asks to switch to a secure chat, end to end between your two browsers."),
      confirmed: gettext("The customer confirmed the codes match.") };
  }
  return { name: gettext("The other side"), asking: gettext("Asking the other side to switch to a secure chat…"),
    asks: gettext("The other side asks to switch to a secure chat, end to end between your two browsers."),
    confirmed: gettext("The other side confirmed the codes match.") };
}

// Why a line that was set up never opened, as the record says (help_desk/secure.py, ims.release).
const NOT_OPENED = {
  "the keys did not match": gettext("the keys did not match"),
  "the other side: the keys did not match": gettext("the keys did not match"),
  "no media path": gettext("no end-to-end path could be made"),
  "the other side: no media path": gettext("no end-to-end path could be made"),
  "the conversation closed": gettext("the conversation closed"),
};

function markerText(segment, ended) {
  if (segment.opened) return ended ? gettext("Secure chat ended — not stored") : gettext("Secure chat started — not stored");
  const reason = NOT_OPENED[segment.end_reason] || gettext("it was closed before it opened");
  return interpolate(gettext("The secure line could not be opened: %(reason)s"), { reason });
}

function couldNot(problem) {
  return interpolate(gettext("The secure chat could not be set up: %(problem)s"), { problem: problem?.message || problem });
}

function element(tag, props = {}, ...children) {
  const made = Object.assign(document.createElement(tag), props);
  made.append(...children);
  return made;
}

export class SecurePanel {
  // root: the conversation's element; list: its timeline; send(event): the page's socket, with the
  // request id added; allowed: the service includes secure chat; other: "the advisor", "the customer".
  constructor(root, { list, send, allowed, other }) {
    this.root = root;
    this.list = list;
    this.send = send;
    this.allowed = allowed;
    this.says = sayings(other);
    this.openedBy = other === "the customer" ? "opened_by_advisor" : "opened_by_customer"; // this end's report
    this.line = null;
    this.offer = null;
    this.marked = new Set();
    this.build(root);
    this.render();
  }

  build(root) {
    const button = (text, action) => element("button", { type: "button", textContent: text, onclick: action });
    this.buttons = {
      ask: button(gettext("Switch to secure chat"), () => this.ask()),
      cancel: button(gettext("Cancel the switch"), () => this.line.hangup()),
      accept: button(gettext("Accept secure chat"), () => this.accept()),
      stay: button(gettext("Stay in standard chat"), () => this.stay()),
      back: button(gettext("Back to standard chat"), () => this.line.hangup()),
    };
    this.buttons.ask.className = this.buttons.accept.className = "primary";
    this.status = element("p", { className: "secure-status", role: "status" });
    this.problem = element("p", { className: "error", role: "alert" });
    this.code = element("strong", { className: "secure-code-digits" });
    this.verifyButton = button(gettext("The codes match"), () => this.line.verify());
    this.differButton = button(gettext("The codes differ"), () => this.line.differ());
    this.differButton.className = "danger";
    this.warning = element("p", { className: "secure-warning", role: "alert", hidden: true });
    this.verifiedNote = element("span", { className: "muted secure-verified" });
    this.codeLabel = element("span", {}, `${gettext("Security code:")} `);
    this.codeHelp = element("p", { className: "muted" });
    this.codeBox = element("div", { className: "secure-code", hidden: true },
      element("p", {}, this.codeLabel, this.code), this.codeHelp,
      this.verifyButton, this.differButton, this.verifiedNote);
    this.form = element("form", { className: "compose secure-form", hidden: true },
      element("label", {}, `${gettext("Write securely")} `, element("textarea", { name: "secure_body", rows: 2, maxLength: 4000, required: true })),
      element("button", { type: "submit", className: "primary", textContent: gettext("Send securely") }));
    this.form.addEventListener("submit", (event) => this.submit(event));
    this.fileViews = new FileViews(this.list, this.says.name);
    this.fileChooser = element("input", { type: "file", name: "secure_file", onchange: () => this.share() });
    this.fileBox = element("div", { className: "secure-file-share", hidden: true },
      element("label", {}, `${gettext("Share a file")} `, this.fileChooser),
      element("span", { className: "muted" }, ` ${gettext("up to 50 MB, end to end; checked by SHA-256 on arrival")}`));
    const panel = element("section", { className: "secure-panel", ariaLabel: gettext("Secure chat") },
      element("div", { className: "call-bar" }, ...Object.values(this.buttons)), this.warning, this.status, this.problem, this.codeBox, this.form, this.fileBox);
    root.querySelector(".messages, #messages").after(panel);
  }

  newLine() {
    this.line = new SecureLine({ send: this.send, onChange: () => this.render(), onText: (body, mine) => this.show(body, mine),
      onFile: (transfer, files) => this.fileViews.show(transfer, files) });
    this.problem.textContent = "";
    return this.line;
  }

  async ask() {
    if (!this.allowed || (this.line && this.line.state !== "ended")) return;
    const line = this.newLine();
    try {
      this.send({ type: "secure.start", sdp: await line.start() });
    } catch (problem) {
      line.ended(couldNot(problem));
    }
  }

  placed(event) {
    if (this.line && !this.line.key) this.line.key = event.call;
  }

  refused(event) {
    if (this.line && !this.line.key) this.line.ended(event.reason);
  }

  // An `ims.call` event: true when it is the secure line's (this panel took it), false for a call's.
  handles(event) {
    if (this.line && this.line.key === event.call) {
      this.handle(event);
      return true;
    }
    if (event.direction !== "in" || event.state !== "ringing" || !isSecureLine(event.sdp)) return false;
    if (!this.allowed || (this.line && this.line.state !== "ended")) {
      this.send({ type: "call.decline", call: event.call }); // one secure line at a time
      return true;
    }
    const line = this.newLine();
    line.key = event.call;
    this.offer = event.sdp;
    line.changed("incoming");
    return true;
  }

  async handle(event) {
    const line = this.line;
    // Over here (keys refused, no path): later news of the session, such as its ACK's "connected"
    // arriving after this side hung up, changes nothing.
    if (line.state === "ended") return;
    const handlers = {
      calling: () => line.changed("calling"),
      ringing: () => line.changed("ringing"),
      answered: () => line.changed("connecting"),
      connected: async () => {
        if (event.sdp && line.pc.signalingState === "have-local-offer") await line.answered(event.sdp);
        line.changed("connecting");
      },
      update: () => line.updated(event.sdp),
      updated: () => line.answered(event.sdp),
      update_failed: () => line.updateFailed(event.status),
      ended: () => this.over(line, event.reason, event.says),
    };
    try {
      await handlers[event.state]?.();
    } catch (problem) {
      if (line.state !== "ended") line.failed(couldNot(problem));
    }
  }

  async over(line, reason, says) {
    if (line.state === "ended") return;
    if (ALARMS[reason]) {
      line.warning = ALARMS[reason];
      await line.computeCode();
    }
    if (line.state !== "ended") line.ended(this.ending(line, reason, says));
  }

  // The other side gave up on a line that never opened: its wait for a path ran out first.
  ending(line, reason, says) {
    if (ALARMS[reason]) return ALARMS[reason];
    const settingUp = ["answering", "connecting", "connected", "reconnecting"].includes(line.state);
    if (reason === "the other side hung up" && settingUp && !line.openedAt) return NO_PATH;
    return ENDINGS[reason] || says || reason || gettext("The secure chat ended.");
  }

  async accept() {
    try {
      this.send({ type: "call.answer", call: this.line.key, sdp: await this.line.accept(this.offer) });
    } catch (problem) {
      this.send({ type: "call.decline", call: this.line.key });
      this.line.ended(couldNot(problem));
    }
  }

  stay() {
    this.send({ type: "call.decline", call: this.line.key });
    this.line.ended(gettext("You stayed in the standard chat."));
  }

  submit(event) {
    event.preventDefault();
    const field = this.form.elements.secure_body;
    const body = field.value.trim();
    if (!body) return;
    if (this.line?.write(body)) field.value = "";
    else this.problem.textContent = gettext("The secure chat is closed; nothing was sent.");
  }

  share() {
    const [file] = this.fileChooser.files;
    this.fileChooser.value = "";
    if (!file) return;
    const refused = this.line?.open ? this.line.files.share(file) : gettext("The secure chat is closed; nothing was sent.");
    this.problem.textContent = refused || "";
  }

  show(body, mine) {
    const item = element("li", { className: `message secure ${mine ? "out" : "in"}` },
      element("span", { className: "who", textContent: mine ? gettext("You") : this.says.name }),
      element("span", { className: "body", textContent: body }),
      element("span", { className: "status", textContent: gettext("end to end · not stored") }));
    this.list.append(item);
    item.scrollIntoView({ block: "nearest" });
    if (!mine) announce(this.list, this.says.name, body);
  }

  // The portal's record of the line (`secure.segment`): a marker in the timeline, once each. A
  // segment is a secure chat once both browsers reported the channel open; one that ended before
  // says the line could not be opened, and why.
  segment({ segment }) {
    const ended = segment.ended_at !== null;
    // This end opened before the IMS side recorded the session: its report found nothing to mark.
    if (!ended && !segment[this.openedBy] && this.line?.open) this.send({ type: "secure.opened" });
    if (!ended && !segment.opened) return;
    const mark = `${segment.id}:${ended ? "ended" : "started"}`;
    if (this.marked.has(mark)) return;
    this.marked.add(mark);
    this.list.append(element("li", { className: "marker secure-marker", textContent: markerText(segment, ended) }));
  }

  render() {
    const line = this.line;
    const state = line?.state || "idle";
    const open = !!line?.open;
    const live = ["calling", "ringing", "answering", "connecting", "connected", "reconnecting"].includes(state);
    const show = {
      ask: this.allowed && !live && state !== "incoming",
      cancel: ["calling", "ringing"].includes(state),
      accept: state === "incoming",
      stay: state === "incoming",
      back: live && !["calling", "ringing"].includes(state),
    };
    for (const [name, button] of Object.entries(this.buttons)) button.hidden = !show[name];
    this.form.hidden = this.fileBox.hidden = !open;
    this.root.classList.toggle("secure-on", open);
    const alarmed = !!line?.warning && state === "ended";
    this.warning.hidden = !alarmed;
    this.warning.textContent = alarmed ? line.warning : "";
    this.root.classList.toggle("secure-alarm", alarmed);
    this.codeBox.hidden = !(open || alarmed) || !line.code;
    if (line) {
      this.code.textContent = line.code ? `${line.code.slice(0, 3)} ${line.code.slice(3)}` : "";
      this.codeLabel.textContent = `${alarmed ? gettext("Your security code was:") : gettext("Security code:")} `;
      this.codeHelp.textContent = alarmed ? gettext("The other side's screen shows a different code: the keys your two browsers saw were not the same.")
        : gettext("Read this code aloud to the other side on a call: if both screens show the same six digits, your messages go only between your two browsers.");
      this.verifyButton.hidden = line.verified.mine || !open;
      this.differButton.hidden = !open;
      this.verifiedNote.textContent = [line.verified.mine && gettext("You confirmed the codes match."),
        line.verified.theirs && this.says.confirmed].filter(Boolean).join(" ");
    }
    this.status.textContent = this.describe(line, open);
  }

  describe(line, open) {
    if (!line) return "";
    if (open) return gettext("Secure chat: end to end between your browser and the other side's; the portal cannot read or store it.");
    return {
      new: "", calling: this.says.asking, ringing: this.says.asking, incoming: this.says.asks,
      answering: gettext("Secure chat: connecting…"), connecting: gettext("Secure chat: connecting…"), connected: gettext("Secure chat: connecting…"),
      reconnecting: gettext("Secure chat: reconnecting…"), ended: line.warning ? gettext("The secure chat is closed; the standard chat goes on.") : line.reason,
    }[line.state];
  }
}
