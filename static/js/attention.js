// Getting a person's attention while their tab is out of sight: the browser's own notification
// (where they allowed it), a ring and a flashing title.
import { ringer } from "./call.js";

export function notify(title, options) {
  if (!document.hidden || !("Notification" in globalThis) || Notification.permission !== "granted") return;
  const note = new Notification(title, options);
  note.onclick = () => { globalThis.focus(); note.close(); };
}

// Browsers grant notifications only on a gesture: asked on a click, once.
export function askToNotify() {
  if ("Notification" in globalThis && Notification.permission === "default") Notification.requestPermission();
}

// Requests ringing while the desk is hidden: one ring and a title that flashes until the desk is
// seen again or nothing rings any more.
export class Alarm {
  constructor() {
    this.ring = ringer();
    this.ringing = new Set();
    this.title = document.title;
    this.flasher = null;
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.quiet(); });
  }

  start(id, title, body) {
    if (!document.hidden) return;
    this.ringing.add(id);
    notify(title, { body, tag: `ring-${id}` });
    this.ring.start();
    this.flasher ??= setInterval(() => {
      document.title = document.title === this.title ? `(${this.ringing.size}) ${title}` : this.title;
    }, 1000);
  }

  stop(id) {
    this.ringing.delete(id);
    if (this.ringing.size === 0) this.quiet();
  }

  quiet() {
    this.ringing.clear();
    this.ring.stop();
    clearInterval(this.flasher);
    this.flasher = null;
    document.title = this.title;
  }
}
