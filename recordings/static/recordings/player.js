// The player says so when a recording cannot be played, instead of a silent 0:00: on the audio
// element's error, the stream is asked again for its first byte and the server's reason (the
// text of its 410 or 422 answer) is shown. A file of the portal's own: the Content-Security-Policy
// allows no inline script.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const audio = document.getElementById("recording-audio");
  const message = document.getElementById("audio-unplayable");
  const reason = document.getElementById("audio-unplayable-reason");
  if (!audio || !message || !reason) {
    return;
  }
  audio.addEventListener("error", async () => {
    let text = "";
    try {
      const response = await fetch(audio.currentSrc || audio.src, {
        headers: { Range: "bytes=0-0" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (!response.ok) {
        text = (await response.text()).trim();
      }
    } catch (error) {
      text = "";
    }
    reason.textContent = text;
    message.hidden = false;
  });
});
