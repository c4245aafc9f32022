// Files over the secure chat line (use case H.6): a PDF, a spreadsheet, a photo, any file up to
// 50 MB, end to end between the two browsers like the line's messages, and never anywhere else:
// neither a file's content nor its name goes over the portal's socket.
//
// Files take a channel of their own beside the line's text channel (negotiated, id 1, on the same
// DTLS/SCTP association, so no new offer): SCTP sends its streams side by side, so a message
// written during a 50 MB transfer is not queued behind megabytes of chunks, and the text channel's
// JSON needs no framing for binary data. On the file channel each side sends, in order:
//   {kind: "file", id, name, size, type}  the header,
//   ArrayBuffer chunks of CHUNK bytes      the content, nothing else in binary,
//   {kind: "end", id, sha256}              all sent, and the content's SHA-256;
// either side may send {kind: "cancel", id}; the receiver answers an end with
// {kind: "received", id, intact}. Chunks carry no id: the channel is ordered and a side sends one
// file at a time, so they belong to the last header; chunks of a file cancelled meanwhile are
// dropped. The hash comes last so that sending starts at once while the browser hashes the file
// beside it (WebCrypto digests off the page's thread, and only whole); the receiver checks
// SHA-256 over what arrived against it before offering the file.

import { gettext, interpolate, language } from "./i18n.js";

export const MAX_BYTES = 50 * 1024 * 1024;
export const FILE_CHANNEL = { negotiated: true, id: 1, ordered: true };
const CHUNK = 64 * 1024; // well under every browser's SCTP message size
// Flow control: stop handing chunks to the channel above HIGH bytes queued, go on below LOW
// (Chromium closes a channel whose queue passes 16 MB).
const HIGH = 4 * 1024 * 1024;
const LOW = 1024 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;
const DRAW_MS = 50;

export function megabytes(bytes) {
  return interpolate(gettext("%(size)s MB"), { size: (bytes / (1024 * 1024)).toLocaleString(language, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) });
}

async function sha256(buffer) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", buffer));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// The header's fields as a browser may safely use them, or null for a header not to be believed.
function header(message) {
  const { id, name, size, type } = message;
  if (typeof id !== "string" || !id || id.length > 64 || typeof name !== "string") return null;
  if (!Number.isSafeInteger(size) || size < 0) return null;
  const mime = typeof type === "string" && /^[\w.+-]+\/[\w.+-]+$/.test(type) ? type : "application/octet-stream";
  return { id, name: name.slice(0, 255) || "file", size, type: mime };
}

// One file, either way. state: preparing, sending, delivering (sender, all sent), receiving,
// checking, intact, damaged, cancelled, refused, unreadable, stopped.
export class Transfer {
  constructor({ id, name, size, type, mine }) {
    Object.assign(this, { id, name, size, type, mine });
    this.state = mine ? "preparing" : "receiving";
    this.done = 0; // bytes sent on (sender) or arrived (receiver)
    this.cancelledBy = null; // "me" or "them"
    this.url = null; // a Blob URL of an intact file received
    this.startedAt = Date.now();
    this.finishedAt = null;
    this.drawing = false; // a redraw of its progress is due
  }

  get active() {
    return ["preparing", "sending", "receiving", "checking"].includes(this.state);
  }
}

export class SecureFiles {
  // channel: the file channel; onChange(transfer): redraw it.
  constructor(channel, onChange) {
    this.channel = channel;
    this.onChange = onChange;
    this.transfers = new Map(); // by id; also where tests and benchmarks read them
    this.queue = [];
    this.sending = false;
    this.incoming = null;
    channel.binaryType = "arraybuffer";
    channel.bufferedAmountLowThreshold = LOW;
    channel.addEventListener("message", ({ data }) => this.received(data));
    channel.addEventListener("close", () => this.closed());
  }

  // Returns the reason when the file is refused, else null (it is queued and sent in turn).
  share(file) {
    if (file.size > MAX_BYTES) {
      return interpolate(gettext("%(name)s is %(size)s; files up to 50 MB can be shared here."), { name: file.name, size: megabytes(file.size) });
    }
    if (this.channel.readyState !== "open") return gettext("The secure chat is closed; nothing was sent.");
    const transfer = new Transfer({ id: crypto.randomUUID(), name: file.name, size: file.size, type: file.type, mine: true });
    this.transfers.set(transfer.id, transfer);
    this.queue.push([transfer, file]);
    this.onChange(transfer);
    this.pump();
    return null;
  }

  async pump() {
    if (this.sending) return;
    this.sending = true;
    while (this.queue.length) {
      const [transfer, file] = this.queue.shift();
      try {
        await this.send(transfer, file);
      } catch {
        if (transfer.active) this.settle(transfer, "stopped");
      }
    }
    this.sending = false;
  }

  async send(transfer, file) {
    let data;
    try {
      data = await file.arrayBuffer();
    } catch {
      this.settle(transfer, "unreadable"); // moved or deleted since it was chosen
      return;
    }
    const hashing = sha256(data);
    if (transfer.state !== "preparing") return; // cancelled meanwhile
    const { id, name, size, type } = transfer;
    this.channel.send(JSON.stringify({ kind: "file", id, name, size, type }));
    transfer.state = "sending";
    for (let offset = 0; offset < size; offset += CHUNK) {
      if (this.channel.bufferedAmount > HIGH) await this.drained();
      if (transfer.state !== "sending") return;
      this.channel.send(new Uint8Array(data, offset, Math.min(CHUNK, size - offset)));
      transfer.done = offset + Math.min(CHUNK, size - offset);
      this.progressed(transfer);
    }
    const hash = await hashing;
    if (transfer.state !== "sending") return;
    this.channel.send(JSON.stringify({ kind: "end", id, sha256: hash }));
    transfer.state = "delivering";
    this.onChange(transfer);
  }

  drained() {
    return new Promise((resolve) => {
      const go = () => {
        this.channel.removeEventListener("bufferedamountlow", go);
        this.channel.removeEventListener("close", go);
        resolve();
      };
      this.channel.addEventListener("bufferedamountlow", go);
      this.channel.addEventListener("close", go);
    });
  }

  // Either side: the other side sees it cancelled too.
  cancel(transfer) {
    if (!transfer.active && transfer.state !== "delivering") return;
    transfer.cancelledBy = "me";
    this.settle(transfer, "cancelled");
    if (this.channel.readyState === "open") this.channel.send(JSON.stringify({ kind: "cancel", id: transfer.id }));
  }

  // Progress redraws at most every DRAW_MS: one per chunk would cost the page more than the chunk.
  progressed(transfer) {
    if (transfer.drawing) return;
    transfer.drawing = true;
    setTimeout(() => {
      transfer.drawing = false;
      this.onChange(transfer);
    }, DRAW_MS);
  }

  settle(transfer, state) {
    transfer.state = state;
    transfer.finishedAt = Date.now();
    this.onChange(transfer);
  }

  received(data) {
    if (typeof data !== "string") {
      this.chunk(data);
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    const handlers = { file: () => this.offered(message), end: () => this.ended(message),
      cancel: () => this.cancelledThere(message.id), received: () => this.delivered(message) };
    handlers[message.kind]?.();
  }

  offered(message) {
    const fields = header(message);
    if (!fields || this.transfers.has(fields.id)) return;
    if (this.incoming?.active) this.settle(this.incoming, "damaged"); // a sender never overlaps its files
    const transfer = new Transfer({ ...fields, mine: false });
    this.transfers.set(transfer.id, transfer);
    this.incoming = transfer;
    if (transfer.size > MAX_BYTES) {
      this.settle(transfer, "refused");
      this.channel.send(JSON.stringify({ kind: "cancel", id: transfer.id }));
      return;
    }
    transfer.content = new Uint8Array(transfer.size); // filled as chunks come: nothing to join at the end
    this.onChange(transfer);
  }

  chunk(buffer) {
    const transfer = this.incoming;
    if (transfer?.state !== "receiving") return; // a cancelled file's chunks still on the way
    if (transfer.done + buffer.byteLength > transfer.size) {
      this.damaged(transfer);
      return;
    }
    transfer.content.set(new Uint8Array(buffer), transfer.done);
    transfer.done += buffer.byteLength;
    this.progressed(transfer);
  }

  async ended({ id, sha256: hash }) {
    const transfer = this.incoming;
    if (transfer?.id !== id || transfer.state !== "receiving") return;
    if (transfer.done !== transfer.size || typeof hash !== "string" || !HEX64.test(hash)) {
      this.damaged(transfer);
      return;
    }
    this.settle(transfer, "checking");
    const intact = (await sha256(transfer.content)) === hash;
    if (transfer.state !== "checking") return;
    if (intact) transfer.url = URL.createObjectURL(new Blob([transfer.content], { type: transfer.type }));
    transfer.content = null;
    this.settle(transfer, intact ? "intact" : "damaged");
    this.reply(transfer, intact);
  }

  damaged(transfer) {
    transfer.content = null;
    this.settle(transfer, "damaged");
    this.reply(transfer, false);
  }

  reply(transfer, intact) {
    if (this.channel.readyState === "open") this.channel.send(JSON.stringify({ kind: "received", id: transfer.id, intact }));
  }

  cancelledThere(id) {
    const transfer = this.transfers.get(id);
    if (!transfer || (!transfer.active && transfer.state !== "delivering")) return;
    transfer.cancelledBy = "them";
    transfer.content = null;
    this.settle(transfer, "cancelled");
  }

  delivered({ id, intact }) {
    const transfer = this.transfers.get(id);
    if (transfer?.mine && transfer.state === "delivering") this.settle(transfer, intact === true ? "intact" : "damaged");
  }

  closed() {
    for (const transfer of this.transfers.values()) {
      if (transfer.active || transfer.state === "delivering") this.settle(transfer, "stopped");
    }
  }
}

function element(tag, props = {}, ...children) {
  const made = Object.assign(document.createElement(tag), props);
  made.append(...children);
  return made;
}

function percent(transfer) {
  return Math.floor((100 * transfer.done) / (transfer.size || 1));
}

// What each state says, on the sending side and on the receiving side.
const SAYS = {
  preparing: () => gettext("Preparing…"),
  sending: (t) => interpolate(gettext("Sending… %(percent)s %"), { percent: percent(t) }),
  delivering: () => gettext("Sent; waiting for the check on arrival…"),
  receiving: (t) => interpolate(gettext("Receiving… %(percent)s %"), { percent: percent(t) }),
  checking: () => gettext("Checking its SHA-256…"),
  intact: (t) => (t.mine ? gettext("Arrived intact: the other side checked its SHA-256.") : gettext("Arrived intact: its SHA-256 matches what was sent.")),
  damaged: (t) => (t.mine ? gettext("Arrived damaged: the other side's SHA-256 check failed, so it was not offered for saving.")
    : gettext("Damaged in transit: its SHA-256 does not match what was sent, so it is not offered for saving.")),
  cancelled: (t) => (t.cancelledBy === "me" ? gettext("Cancelled by you.") : gettext("Cancelled by the other side.")),
  refused: () => gettext("Refused: over the 50 MB limit."),
  unreadable: () => gettext("Not sent: the browser could not read the file."),
  stopped: () => gettext("Stopped: the secure chat closed before the file was complete."),
};

// The timeline's item for each transfer: name and size, a progress bar, what is happening, and
// Cancel while it runs or Save once it arrived intact.
export class FileViews {
  // other: the other side's name as shown, "The advisor" (translated by the secure panel).
  constructor(list, other) {
    this.list = list;
    this.other = other;
    this.items = new Map();
  }

  // files: the SecureFiles the transfer belongs to (each secure line has its own).
  show(transfer, files) {
    const view = this.items.get(transfer.id) || this.build(transfer, files);
    view.progress.max = transfer.size || 1;
    view.progress.value = transfer.state === "intact" ? view.progress.max : transfer.done;
    view.status.textContent = SAYS[transfer.state](transfer);
    view.cancel.hidden = !(transfer.active || transfer.state === "delivering");
    view.save.hidden = !transfer.url;
    view.item.classList.toggle("damaged", transfer.state === "damaged");
  }

  build(transfer, files) {
    const who = transfer.mine ? gettext("You") : this.other;
    const label = interpolate(gettext("%(name)s · %(size)s"), { name: transfer.name, size: megabytes(transfer.size) });
    const view = {
      progress: element("progress", { ariaLabel: interpolate(gettext("Transfer of %(name)s"), { name: transfer.name }) }),
      status: element("span", { className: "file-status" }),
      cancel: element("button", { type: "button", textContent: gettext("Cancel"), onclick: () => files.cancel(transfer) }),
      save: element("button", { type: "button", className: "primary", textContent: gettext("Save"), onclick: () => save(transfer) }),
    };
    view.cancel.ariaLabel = interpolate(gettext("Cancel %(name)s"), { name: transfer.name });
    view.save.ariaLabel = interpolate(gettext("Save %(name)s"), { name: transfer.name });
    view.item = element("li", { className: `message secure file ${transfer.mine ? "out" : "in"}` },
      element("span", { className: "who", textContent: interpolate(gettext("%(who)s · file"), { who }) }),
      element("span", { className: "status", textContent: gettext("end to end · not stored") }),
      element("span", { className: "body", textContent: label }),
      element("div", { className: "file-row" }, view.progress, view.status, view.cancel, view.save));
    this.items.set(transfer.id, view);
    this.list.append(view.item);
    view.item.scrollIntoView({ block: "nearest" });
    return view;
  }
}

// A download of the received Blob; CSP governs neither the link's navigation nor the download.
function save(transfer) {
  if (!transfer.url) return;
  element("a", { href: transfer.url, download: transfer.name }).click();
}
