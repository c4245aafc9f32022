// The browser client's one WebSocket to the portal: JSON events with a `type`, reconnecting
// with backoff when the connection drops.
export class PortalSocket {
  constructor(path = "/ws/client/") {
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
    this.handlers = new Map();
    this.queue = [];
    this.nextRef = 1;
    this.delay = 500;
    this.connect();
  }

  on(type, handler) {
    this.handlers.set(type, handler);
    return this;
  }

  send(event) {
    const ref = this.nextRef++;
    const frame = JSON.stringify({ ...event, ref });
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame);
    else this.queue.push(frame);
    return ref;
  }

  connect() {
    this.ws = new WebSocket(this.url);
    this.ws.addEventListener("open", () => {
      this.delay = 500;
      this.emit({ type: "socket.open" });
      for (const frame of this.queue.splice(0)) this.ws.send(frame);
    });
    this.ws.addEventListener("message", (message) => this.emit(JSON.parse(message.data)));
    this.ws.addEventListener("close", () => {
      this.emit({ type: "socket.closed" });
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    });
  }

  emit(event) {
    const handler = this.handlers.get(event.type);
    if (handler) handler(event);
  }
}
