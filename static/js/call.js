// One call's media and negotiation: an RTCPeerConnection, the local tracks, and the SDP it
// exchanges through the portal's socket. The IMS carries the SDP in SIP without trickle ICE, so
// every description leaves complete: gathered, or after GATHER_MS at most. One side offers at a
// time; when both re-offer at once the IMS side answers one of them 491 (RFC 3261 §14.1) and that
// side rolls back and tries again a moment later.
import { gettext, interpolate } from "./i18n.js";
import { fresh, iceServers, iceTransportPolicy, refreshed } from "./ice.js";

const GATHER_MS = 3000;
const CONNECT_MS = 20000; // ICE and DTLS, once the answer is in
const RESTART_MS = 15000; // a dropped path has this long to come back through ICE restarts
const RETRY_MS = 1500; // between one ICE restart that did not bring the path back and the next
const GLARE_RETRY_MS = [500, 2000];
const REFRESH_MS = 2000; // the longest a restart waits for new ICE servers; then it gathers with the old
const DROPPED = gettext("The connection dropped and could not be restored, so the call ended.");

// Every call of this page, by key; also on globalThis, where tests and the browser's console
// read their connections.
export const calls = new Map();
globalThis.portalCalls = calls;

const ufrag = (sdp) => sdp?.match(/a=ice-ufrag:(\S+)/)?.[1];
const configuration = () => ({ iceServers, iceTransportPolicy, bundlePolicy: "balanced", rtcpMuxPolicy: "require" });

// Before gathering again (an ICE restart, or the answer to one): a TURN credential past or near
// its expiry opens no relay, so the page's socket is asked for new ones first.
async function freshServers(pc, send) {
  if (fresh()) return;
  const renewed = refreshed();
  send({ type: "ice.refresh" });
  await Promise.race([renewed, new Promise((resolve) => setTimeout(resolve, REFRESH_MS))]);
  pc.setConfiguration(configuration());
}

// `fresh`: the description has new ICE credentials (a restart, or the answer to one), so gathering
// starts again; the browser says so only after setLocalDescription has settled, and until then a
// "complete" state is the last gathering's.
function gathered(pc, fresh) {
  if (pc.iceGatheringState === "complete" && !fresh) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") { pc.removeEventListener("icegatheringstatechange", done); resolve(); } };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, GATHER_MS);
  });
}

export function mediaError(error) {
  const reasons = {
    NotAllowedError: gettext("The browser was not allowed to use the microphone or camera."),
    NotFoundError: gettext("No microphone or camera was found."),
    NotReadableError: gettext("The microphone or camera is in use by another program."),
    OverconstrainedError: gettext("The chosen microphone or camera is not available."),
  };
  return reasons[error?.name] || interpolate(gettext("Could not start the call: %(problem)s"), { problem: error?.message || error });
}

export class Call {
  // send(event): to the page's socket; onChange(call): redraw. `devices`: chosen deviceIds.
  constructor({ send, onChange, video = false, devices = {} }) {
    this.key = null;
    this.send = send;
    this.onChange = onChange;
    this.video = video;
    this.devices = devices;
    this.state = "new";
    this.reason = "";
    this.muted = false;
    this.held = false;
    this.offering = false;
    this.iceRestarts = 0; // offered by this side in the call so far (the console and tests read it)
    this.remoteStream = new MediaStream();
    this.pc = null;
    this.local = null;
    this.noPath = gettext("No media path could be made to the other side.");
  }

  changed(state, reason = "") {
    // An ended call stays ended: a step still awaiting (gathering, an answer) may finish after it.
    if (this.state === "ended" && state && state !== "ended") return;
    if (state) this.state = state;
    if (reason) this.reason = reason;
    this.onChange(this);
  }

  async media(video) {
    const audio = this.devices.audio ? { deviceId: { exact: this.devices.audio } } : true;
    const camera = this.devices.video ? { deviceId: { exact: this.devices.video } } : true;
    return navigator.mediaDevices.getUserMedia({ audio, video: video ? camera : false });
  }

  connection() {
    // "balanced", not "max-bundle": a media gateway's offer or answer (rtpengine's) may carry no
    // BUNDLE group, which max-bundle refuses; between browsers BUNDLE is negotiated all the same.
    const pc = new RTCPeerConnection(configuration());
    pc.addEventListener("track", ({ track }) => { this.remoteStream.addTrack(track); this.onChange(this); });
    pc.addEventListener("connectionstatechange", () => this.watch());
    this.pc = pc;
    return pc;
  }

  async described(description) {
    const before = ufrag(this.pc.localDescription?.sdp);
    await this.pc.setLocalDescription(description);
    await gathered(this.pc, before !== undefined && ufrag(this.pc.localDescription.sdp) !== before);
    return this.pc.localDescription.sdp;
  }

  // What the connection carries, added before its offer or answer is made: the microphone (and
  // camera) here; the secure chat line's data channel instead (secure_chat.js).
  async attach(pc) {
    this.local = await this.media(this.video);
    for (const track of this.local.getTracks()) pc.addTrack(track, this.local);
  }

  // The caller's side: the browser's offer goes out as the INVITE's body.
  async start() {
    const pc = this.connection();
    await this.attach(pc);
    const sdp = await this.described(await pc.createOffer());
    this.outgoing = true;
    this.changed("calling");
    return sdp;
  }

  // The callee's side, once the person pressed Answer: the INVITE's offer, our answer.
  async accept(offer) {
    const pc = this.connection();
    await pc.setRemoteDescription({ type: "offer", sdp: offer });
    this.video = /\nm=video [1-9]/.test(offer) && this.video;
    await this.attach(pc);
    const sdp = await this.described(await pc.createAnswer());
    this.changed("answering");
    this.connectBy(CONNECT_MS);
    return sdp;
  }

  async answered(sdp) {
    await this.pc.setRemoteDescription({ type: "answer", sdp });
    this.offering = false;
    this.connectBy(CONNECT_MS);
    this.retry(); // a restart's answer: if the path is back by then, the retry finds it connected
  }

  connectBy(ms) {
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      if (this.pc && this.pc.connectionState !== "connected") this.failed(this.noPath, "no media path");
    }, ms);
  }

  watch() {
    const state = this.pc?.connectionState;
    if (state === "connected") {
      clearTimeout(this.connectTimer);
      clearTimeout(this.restartTimer);
      clearTimeout(this.retryTimer);
      this.restartTimer = null;
      if (!this.connectedAt) this.connectedAt = Date.now();
      this.changed("connected");
    } else if (state === "failed" && !this.connectedAt) {
      this.failed(this.noPath, "no media path"); // never connected: no path, nothing to restore
    } else if (state === "disconnected" || state === "failed") {
      this.changed("reconnecting");
      if (this.restartTimer) return; // already waiting, and restarting if we are the caller
      this.restartTimer = setTimeout(() => this.failed(DROPPED, "the connection dropped"), RESTART_MS);
      // One side restarts ICE (the caller, as the offerer of the call), and at once: waiting for
      // "failed" would take longer than the call waits for its path to come back.
      if (this.outgoing) this.restore();
    }
  }

  // The caller's ICE restart while the path is down, one offer at a time. One made while the
  // network is still gone gathers nothing, or its answer brings no path: retry() tries again.
  restore() {
    if (this.state !== "reconnecting" || this.offering) return;
    this.iceRestarts += 1;
    this.renegotiate({ iceRestart: true });
  }

  retry() {
    clearTimeout(this.retryTimer);
    if (this.outgoing && this.state === "reconnecting") this.retryTimer = setTimeout(() => this.restore(), RETRY_MS);
  }

  // Ends the call on a media failure; `cause` (one of MEDIA_FAILURES) is what the portal records
  // and the other side is told (the BYE's Reason).
  failed(reason, cause = "") {
    this.send(cause ? { type: "call.hangup", call: this.key, reason: cause } : { type: "call.hangup", call: this.key });
    this.ended(reason);
  }

  // A new offer mid-call (hold, resume, camera, ICE restart), sent as a re-INVITE.
  async renegotiate(options = {}) {
    if (!this.pc || this.offering) return;
    this.offering = true;
    this.offerOptions = options;
    if (options.iceRestart) await freshServers(this.pc, this.send);
    const sdp = await this.described(await this.pc.createOffer(options));
    if (this.state === "ended") return;
    if (options.iceRestart && !/\na=candidate:/.test(sdp)) return this.updateFailed(0); // no network yet
    this.send({ type: "call.update", call: this.key, sdp });
  }

  // The other side's re-offer: our answer goes back in the 200.
  async updated(offer) {
    if (this.offering) await this.pc.setLocalDescription({ type: "rollback" });
    this.offering = false;
    if (ufrag(offer) !== ufrag(this.pc.remoteDescription?.sdp)) await freshServers(this.pc, this.send);
    await this.pc.setRemoteDescription({ type: "offer", sdp: offer });
    const sdp = await this.described(await this.pc.createAnswer());
    this.send({ type: "call.update_answer", call: this.key, sdp });
    this.onChange(this);
  }

  // Our re-offer was refused (or, status 0, never sent): after glare (491) the same offer again a
  // moment later; else keep what was agreed, and while the path is down restart ICE again.
  async updateFailed(status) {
    if (this.pc.signalingState === "have-local-offer") await this.pc.setLocalDescription({ type: "rollback" });
    this.offering = false;
    if (status === 491) {
      const [low, high] = GLARE_RETRY_MS;
      setTimeout(() => this.renegotiate(this.offerOptions), low + Math.random() * (high - low));
    } else this.retry();
  }

  directions(direction) {
    for (const transceiver of this.pc.getTransceivers()) {
      if (!transceiver.stopped && transceiver.sender.track) transceiver.direction = direction;
    }
  }

  hold(on) {
    this.held = on;
    this.directions(on ? "sendonly" : "sendrecv");
    this.renegotiate();
    this.onChange(this);
  }

  mute(on) {
    this.muted = on;
    for (const track of this.local?.getAudioTracks() || []) track.enabled = !on;
    this.onChange(this);
  }

  async camera(on) {
    if (on) {
      const [track] = (await this.media(true)).getVideoTracks();
      this.local.addTrack(track);
      this.pc.addTrack(track, this.local);
    } else {
      for (const transceiver of this.pc.getTransceivers()) {
        if (transceiver.sender.track?.kind === "video") {
          transceiver.sender.track.stop();
          this.local.removeTrack(transceiver.sender.track);
          transceiver.stop();
        }
      }
    }
    this.video = on;
    await this.renegotiate();
    this.onChange(this);
  }

  hangup() {
    if (this.key) this.send({ type: "call.hangup", call: this.key });
    this.ended(gettext("You hung up."));
  }

  ended(reason) {
    clearTimeout(this.connectTimer);
    clearTimeout(this.restartTimer);
    clearTimeout(this.retryTimer);
    for (const track of this.local?.getTracks() || []) track.stop();
    this.pc?.close();
    this.endedAt = Date.now();
    this.changed("ended", reason);
  }

  // What getStats says of the audio now: codec, loss, jitter, round trip, bitrate.
  async quality() {
    if (!this.pc) return null;
    const reports = [...(await this.pc.getStats()).values()];
    const inbound = reports.find((r) => r.type === "inbound-rtp" && r.kind === "audio");
    const pair = reports.find((r) => r.type === "candidate-pair" && r.nominated && r.state === "succeeded");
    const codec = inbound && reports.find((r) => r.id === inbound.codecId);
    const now = { at: Date.now(), bytes: inbound?.bytesReceived || 0 };
    const kbps = this.lastBytes ? (8 * (now.bytes - this.lastBytes.bytes)) / (now.at - this.lastBytes.at) : 0;
    this.lastBytes = now;
    return {
      codec: codec?.mimeType?.replace("audio/", "") || "",
      packetsLost: inbound?.packetsLost || 0,
      packetsReceived: inbound?.packetsReceived || 0,
      jitterMs: Math.round((inbound?.jitter || 0) * 1000),
      rttMs: Math.round((pair?.currentRoundTripTime || 0) * 1000),
      kbps: Math.round(kbps),
    };
  }
}

// A ring the callee hears while a call waits to be answered: two tones, on and off.
export function ringer() {
  let context = null;
  let timer = null;
  const burst = () => {
    const gain = context.createGain();
    gain.gain.value = 0.08;
    gain.connect(context.destination);
    for (const hz of [440, 480]) {
      const tone = context.createOscillator();
      tone.frequency.value = hz;
      tone.connect(gain);
      tone.start();
      tone.stop(context.currentTime + 1.2);
    }
  };
  return {
    start() {
      if (timer) return;
      context = context || new AudioContext();
      burst();
      timer = setInterval(burst, 3000);
    },
    stop() {
      clearInterval(timer);
      timer = null;
    },
  };
}
