// A conversation's call, beside its chat: start one (audio, or video where the service allows),
// a visible and audible ring with Answer and Decline, mute, hold, camera, hang up, the other
// side's media, live quality figures, and a bubble in the timeline that fills in as the call goes.
import { askToNotify, notify } from "./attention.js";
import { Call, calls, mediaError, ringer } from "./call.js";
import { gettext, interpolate } from "./i18n.js";

const ENDINGS = {
  "hung up": gettext("You hung up."),
  "the other side hung up": gettext("The other side hung up."),
  declined: gettext("The call was declined."),
  "no answer": gettext("Nobody answered."),
  cancelled: gettext("The call was cancelled."),
  "cancelled by the caller": gettext("The caller hung up before it was answered."),
  // The other browser ended the call on a media failure (the BYE's Reason, ims/release.py).
  "the other side: no media path": gettext("No media path could be made to the other side."),
  "the other side: the connection dropped": gettext("The connection dropped and could not be restored, so the call ended."),
  "the connection dropped": gettext("The connection dropped and could not be restored, so the call ended."),
};

// reason: the code the server ended the call with; says: the server's words for it, in the
// page's language, where the code is not one of the client's own.
function ending(reason, says) {
  if (ENDINGS[reason]) return ENDINGS[reason];
  if (/^(486|600)\b/.test(reason)) return gettext("The other side is busy.");
  if (/^(603|403)\b/.test(reason)) return gettext("The call was declined.");
  if (/^(408|480)\b/.test(reason)) return gettext("Nobody answered.");
  return says || reason || gettext("The call ended.");
}

function element(tag, props = {}, ...children) {
  const made = Object.assign(document.createElement(tag), props);
  made.append(...children);
  return made;
}

// A call rings in a tab out of sight: the browser's own notification too, where allowed (asked
// for on the person's first click in a call panel).
function notifyCall(call) {
  notify(call.video ? gettext("Incoming video call") : gettext("Incoming call"), { body: call.remote || "", tag: call.key });
}

function clock(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

export class CallPanel {
  // root: the conversation's element; list: its message list (for the bubble); send(event): the
  // page's socket, with the conversation's request id added; allows: {audio, video}. Where the
  // page dials (Mary's), address() gives whom to call, or throws an Error saying what is wrong;
  // where it only answers (the desk's and help page's panel for the holder's own calls), dials: false.
  constructor(root, { list, send, allows, stats = false, address = null, dials = true }) {
    this.list = list;
    this.send = send;
    this.allows = allows;
    this.address = address;
    this.dials = dials;
    this.call = null;
    this.offer = null;
    this.ring = ringer();
    this.build(root, stats);
    this.render();
  }

  build(root, stats) {
    const button = (text, action) => element("button", { type: "button", textContent: text, onclick: action });
    this.buttons = {
      audio: button(gettext("Call"), () => this.start(false)),
      video: button(gettext("Video call"), () => this.start(true)),
      answer: button(gettext("Answer"), () => this.answer()),
      decline: button(gettext("Decline"), () => this.decline()),
      mute: button(gettext("Mute"), () => this.call.mute(!this.call.muted)),
      hold: button(gettext("Hold"), () => this.call.hold(!this.call.held)),
      camera: button(gettext("Camera on"), () => this.call.camera(!this.call.video).catch((e) => this.error(mediaError(e)))),
      hangup: button(gettext("Hang up"), () => this.call.hangup()),
    };
    this.buttons.answer.className = this.buttons.audio.className = "primary";
    this.buttons.hangup.className = "danger";
    this.status = element("p", { className: "call-status", role: "status" });
    this.problem = element("p", { className: "error", role: "alert" });
    this.remoteAudio = element("audio", { className: "remote-audio", autoplay: true });
    this.remoteVideo = element("video", { className: "remote-video", autoplay: true, playsInline: true, hidden: true });
    this.localVideo = element("video", { className: "local-video", autoplay: true, muted: true, playsInline: true, hidden: true });
    this.figures = element("p", { className: "call-figures muted", hidden: true });
    this.chart = element("canvas", { className: "call-chart", width: 240, height: 48, hidden: true });
    this.showStats = stats;
    const bar = element("div", { className: "call-bar" }, ...Object.values(this.buttons), this.devicePicker());
    const media = element("div", { className: "call-media" }, this.remoteVideo, this.localVideo, this.remoteAudio);
    const panel = element("section", { className: "call-panel", ariaLabel: gettext("Call") }, bar, this.status, this.problem, media, this.figures, this.chart);
    panel.addEventListener("click", askToNotify, { once: true });
    root.querySelector(".messages, #messages").before(panel);
  }

  devicePicker() {
    this.mic = element("select", { name: "microphone" });
    this.cam = element("select", { name: "camera" });
    const picker = element("details", { className: "devices" }, element("summary", { textContent: gettext("Devices") }),
      element("label", {}, `${gettext("Microphone")} `, this.mic), element("label", {}, `${gettext("Camera")} `, this.cam));
    picker.addEventListener("toggle", () => this.listDevices());
    return picker;
  }

  async listDevices() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    for (const [select, kind] of [[this.mic, "audioinput"], [this.cam, "videoinput"]]) {
      const chosen = select.value;
      select.replaceChildren(...devices.filter((d) => d.kind === kind).map((d, n) =>
        element("option", { value: d.deviceId, textContent: d.label || interpolate(kind === "audioinput" ? gettext("Microphone %(n)s") : gettext("Camera %(n)s"), { n: n + 1 }) })));
      if (chosen) select.value = chosen;
    }
  }

  newCall(video) {
    const devices = { audio: this.mic.value || undefined, video: this.cam.value || undefined };
    this.call = new Call({ send: this.send, onChange: () => this.render(), video, devices });
    this.bubble = element("li", { className: "message call-bubble" });
    this.list.append(this.bubble);
    this.error("");
    return this.call;
  }

  async start(video) {
    if (this.call && this.call.state !== "ended") return;
    let to = null;
    try {
      to = this.address ? this.address() : null;
    } catch (problem) {
      this.error(problem.message);
      return;
    }
    const call = this.newCall(video);
    call.remote = to;
    try {
      const sdp = await call.start();
      this.send(to ? { type: "call.start", sdp, video, to } : { type: "call.start", sdp, video });
    } catch (problem) {
      call.ended(mediaError(problem));
    }
  }

  placed(event) {
    if (!this.call || this.call.key) return;
    this.call.key = event.call;
    if (event.media) this.call.media_path = event.media;
    calls.set(event.call, this.call);
  }

  refused(event) {
    if (this.call && !this.call.key) this.call.ended(event.reason);
  }

  // Each `ims.call` event of this conversation.
  async handle(event) {
    if (event.direction === "in" && event.state === "ringing") return this.incoming(event);
    const call = this.call;
    if (!call || call.key !== event.call || call.state === "ended") return; // over here: later news changes nothing
    if (call.state === "incoming" && ["answered", "connected"].includes(event.state)) {
      // Every window of the callee rang; another one answered.
      this.ring.stop();
      return call.ended(gettext("Answered in another window."));
    }
    const handlers = {
      calling: () => call.changed("calling"),
      ringing: () => call.changed("ringing"),
      answered: () => this.connecting(call),
      connected: () => this.connected(call, event),
      update: () => call.updated(event.sdp),
      updated: () => call.answered(event.sdp),
      update_failed: () => call.updateFailed(event.status),
      ended: () => { this.ring.stop(); if (call.state !== "ended") call.ended(ending(event.reason, event.says)); },
    };
    try {
      await handlers[event.state]?.();
    } catch (problem) {
      // An SDP the browser cannot take: end the call, saying so, rather than ring forever.
      if (call.state !== "ended") call.failed(interpolate(gettext("The call could not be set up: %(problem)s"), { problem: problem?.message || problem }));
    }
  }

  async connected(call, event) {
    if (event.media) call.media_path = event.media;
    if (event.codec) call.farCodec = event.codec; // what the other side speaks, where converted
    if (event.sdp && call.pc.signalingState === "have-local-offer") await call.answered(event.sdp);
    this.connecting(call);
  }

  // Signalling is done; the media path may still be on its way (ICE, DTLS), or already there.
  connecting(call) {
    if (call.pc?.connectionState === "connected") call.changed("connected");
    else call.changed("connecting");
  }

  incoming(event) {
    if (this.call && this.call.state !== "ended") {
      this.send({ type: "call.decline", call: event.call });  // one call at a time in a conversation
      return;
    }
    const call = this.newCall(this.allows.video && /\nm=video [1-9]/.test(event.sdp));
    call.key = event.call;
    call.remote = event.caller_name ? `${event.caller_name} (${event.caller})` : event.caller || null;
    call.incoming = true;
    if (event.media) call.media_path = event.media;
    calls.set(event.call, call);
    this.offer = event.sdp;
    call.changed("incoming");
    this.ring.start();
    notifyCall(call);
  }

  async answer() {
    this.ring.stop();
    try {
      const sdp = await this.call.accept(this.offer);
      this.send({ type: "call.answer", call: this.call.key, sdp });
    } catch (problem) {
      this.send({ type: "call.decline", call: this.call.key });
      this.call.ended(mediaError(problem));
    }
  }

  decline() {
    this.ring.stop();
    this.send({ type: "call.decline", call: this.call.key });
    this.call.ended(gettext("You declined the call."));
  }

  error(text) {
    this.problem.textContent = text;
  }

  render() {
    const call = this.call;
    const state = call?.state || "idle";
    const live = ["calling", "ringing", "answering", "connecting", "connected", "reconnecting"].includes(state);
    const show = {
      audio: !live && state !== "incoming" && this.allows.audio && this.dials,
      video: !live && state !== "incoming" && this.allows.video && this.dials,
      answer: state === "incoming", decline: state === "incoming",
      mute: live, hold: live && call.pc?.signalingState === "stable", camera: live && this.allows.video && !!call.pc,
      hangup: live,
    };
    for (const [name, button] of Object.entries(this.buttons)) button.hidden = !show[name];
    if (call) {
      this.buttons.mute.textContent = call.muted ? gettext("Unmute") : gettext("Mute");
      this.buttons.hold.textContent = call.held ? gettext("Resume") : gettext("Hold");
      this.buttons.camera.textContent = call.video ? gettext("Camera off") : gettext("Camera on");
      this.media(call);
    }
    this.status.textContent = this.describe(call);
    if (this.bubble) this.bubble.textContent = this.summary(call);
    this.ticking(state === "connected");
  }

  media(call) {
    const hasVideo = call.remoteStream.getVideoTracks().some((t) => t.readyState === "live");
    if (this.remoteAudio.srcObject !== call.remoteStream) this.remoteAudio.srcObject = call.remoteStream;
    if (this.remoteVideo.srcObject !== call.remoteStream) this.remoteVideo.srcObject = call.remoteStream;
    this.remoteVideo.hidden = !hasVideo || call.state === "ended";
    const localVideo = call.local && call.local.getVideoTracks().length > 0;
    if (localVideo && this.localVideo.srcObject !== call.local) this.localVideo.srcObject = call.local;
    this.localVideo.hidden = !localVideo || call.state === "ended";
  }

  describe(call) {
    if (!call) return "";
    if (call.state === "connected") return this.progress(call);
    const says = call.video ? {
      calling: gettext("Video call: calling…"), ringing: gettext("Video call: ringing…"), incoming: gettext("Incoming video call"),
      connecting: gettext("Video call: connecting…"), reconnecting: gettext("Video call: reconnecting…"),
    } : {
      calling: gettext("Call: calling…"), ringing: gettext("Call: ringing…"), incoming: gettext("Incoming call"),
      connecting: gettext("Call: connecting…"), reconnecting: gettext("Call: reconnecting…"),
    };
    return { new: "", answering: says.connecting, ended: call.reason, ...says }[call.state];
  }

  // Whole sentences for each of hold and mute: a translation may word each its own way.
  progress(call) {
    const held = call.held ? 1 : 0;
    const muted = call.muted ? 2 : 0;
    return (call.video ? [gettext("Video call in progress"), gettext("Video call in progress (on hold)"),
      gettext("Video call in progress (muted)"), gettext("Video call in progress (on hold) (muted)")]
      : [gettext("Call in progress"), gettext("Call in progress (on hold)"), gettext("Call in progress (muted)"),
        gettext("Call in progress (on hold) (muted)")])[held + muted];
  }

  summary(call) {
    const parts = [call.video ? gettext("Video call") : gettext("Voice call")];
    if (call.remote && (this.address || !this.dials)) parts.push(interpolate(call.incoming ? gettext("from %(remote)s") : gettext("to %(remote)s"), { remote: call.remote })); // a dialling page's log
    if (call.connectedAt) parts.push(clock((call.endedAt || Date.now()) - call.connectedAt));
    if (call.codec) parts.push(call.codec);
    if (call.media_path === "direct") parts.push(gettext("direct, browser to browser"));
    else if (call.media_path === "passthrough") parts.push(gettext("passed through"));
    else if (call.media_path) parts.push(call.farCodec ? interpolate(gettext("converted to %(codec)s"), { codec: call.farCodec }) : gettext("converted"));
    parts.push(call.state === "ended" ? call.reason : this.describe(call));
    return parts.join(" · ");
  }

  ticking(on) {
    if (on && !this.ticker) this.ticker = setInterval(() => this.tick(), 1000);
    if (!on && this.ticker) { clearInterval(this.ticker); this.ticker = null; this.tick(); }
  }

  // Once a call has ended: its last figures, kept with the call's record.
  report(call) {
    const last = call.history?.at(-1);
    if (!call.key || !last || call.reported) return;
    call.reported = true;
    const seconds = call.connectedAt ? Math.round(((call.endedAt || Date.now()) - call.connectedAt) / 1000) : 0;
    this.send({ type: "call.quality", call: call.key, summary: { ...last, seconds } });
  }

  async tick() {
    const call = this.call;
    const figures = call && call.state !== "ended" ? await call.quality() : null;
    if (figures) {
      call.codec = figures.codec;
      (call.history ||= []).push(figures);
      call.history.splice(0, call.history.length - 60);
    }
    if (this.bubble && call) this.bubble.textContent = this.summary(call);
    if (call?.state === "ended") this.report(call);
    this.figures.hidden = this.chart.hidden = !this.showStats || !figures;
    if (figures && this.showStats) this.draw(call.history, figures);
  }

  draw(history, now) {
    this.figures.textContent = interpolate(gettext("%(codec)s · loss %(lost)s · jitter %(jitter)s ms · round trip %(rtt)s ms · %(kbps)s kbit/s"),
      { codec: now.codec, lost: now.packetsLost, jitter: now.jitterMs, rtt: now.rttMs, kbps: now.kbps });
    const ctx = this.chart.getContext("2d");
    const { width, height } = this.chart;
    ctx.clearRect(0, 0, width, height);
    const top = Math.max(64, ...history.map((h) => h.kbps));
    ctx.strokeStyle = "#1f5eff";
    ctx.beginPath();
    history.forEach((h, n) => ctx.lineTo((n / 59) * width, height - (h.kbps / top) * height));
    ctx.stroke();
  }
}
