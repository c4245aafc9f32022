// A call from or to a page of the portal, as a browser client would make it: its own socket to
// /ws/client/, an RTCPeerConnection with the fake microphone, complete SDP (ICE gathered, since
// SIP carries no trickle), and the remote audio analysed with Web Audio. Test support only.
window.phoneCall = (() => {
  const call = { events: [], pc: null, key: null, ws: null, incoming: null, analyser: null, context: null };

  function connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${location.host}/ws/client/`);
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error("the socket did not open"));
      ws.onmessage = (message) => {
        const event = JSON.parse(message.data);
        call.events.push(event);
        if (event.type === "call.placed") call.key = event.call;  // before any event of the call
        if (event.type === "ims.call") onCall(event).catch((error) => call.events.push({ type: "page.error", error: String(error) }));
      };
    });
  }

  async function onCall(event) {
    if (event.state === "ringing" && event.direction === "in") call.incoming = event;
    if (event.state === "connected" && event.direction === "out" && event.sdp && event.call === call.key) {
      await call.pc.setRemoteDescription({ type: "answer", sdp: event.sdp });
    }
  }

  async function peer() {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const pc = new RTCPeerConnection({ iceServers: [] });
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    pc.ontrack = (event) => listen(event.streams[0] || new MediaStream([event.track]));
    call.pc = pc;
    return pc;
  }

  function gathered(pc) {
    return new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      const timer = setTimeout(resolve, 5000);  // bounded: what was gathered by then goes
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
  }

  // The remote stream plays in a muted <audio> (without it the analyser hears nothing).
  function listen(stream) {
    const audio = document.createElement("audio");
    audio.className = "remote-audio";
    audio.muted = true;
    audio.srcObject = stream;
    document.body.append(audio);
    audio.play().catch(() => {});
    call.context = new AudioContext();
    call.analyser = call.context.createAnalyser();
    call.analyser.fftSize = 8192;
    call.context.createMediaStreamSource(stream).connect(call.analyser);
  }

  return {
    call,
    async place(to) {
      call.ws = await connect();
      const pc = await peer();
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      call.ws.send(JSON.stringify({ type: "call.start", to, sdp: pc.localDescription.sdp, ref: 1 }));
      return await new Promise((resolve) => {
        const check = () => { const e = call.events.find((e) => e.type === "call.placed" || e.type === "error"); e ? resolve(e) : setTimeout(check, 50); };
        check();
      });
    },
    async listenForCalls() {
      call.ws = await connect();
    },
    async answer() {
      const pc = await peer();
      call.key = call.incoming.call;
      await pc.setRemoteDescription({ type: "offer", sdp: call.incoming.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      call.ws.send(JSON.stringify({ type: "call.answer", call: call.key, sdp: pc.localDescription.sdp }));
    },
    hangUp() {
      call.ws.send(JSON.stringify({ type: "call.hangup", call: call.key }));
    },
    state(name) {
      return call.events.find((e) => e.type === "ims.call" && e.call === call.key && e.state === name) || null;
    },
    connection() {
      return call.pc ? call.pc.connectionState : "none";
    },
    // The loudest frequency the remote audio carries now (Hz), and its level (dB).
    peak() {
      if (!call.analyser) return { hz: 0, db: -Infinity };
      const bins = new Float32Array(call.analyser.frequencyBinCount);
      call.analyser.getFloatFrequencyData(bins);
      let best = 1;
      for (let n = 2; n < bins.length; n++) if (bins[n] > bins[best]) best = n;
      return { hz: best * call.context.sampleRate / call.analyser.fftSize, db: bins[best] };
    },
    async codec() {
      const reports = [...(await call.pc.getStats()).values()];
      const inbound = reports.find((r) => r.type === "inbound-rtp" && r.kind === "audio");
      const codec = inbound && reports.find((r) => r.id === inbound.codecId);
      return { codec: codec ? codec.mimeType : "", bytes: inbound ? inbound.bytesReceived : 0 };
    },
  };
})();
