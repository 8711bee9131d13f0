// The webview's own camera (getUserMedia), for where the app's native camera code does not
// reach (Android, iOS) or finds nothing: frames are drawn to a canvas, encoded as JPEG
// and pushed to the core (`push_frame`), which runs the same pipeline on them. Used only
// when the core reports no camera; nothing is stored.
'use strict';

window.webviewCamera = (() => {
  let running = false;

  async function start(invoke) {
    if (running || !(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) return false;
    running = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
    } catch (_) {
      running = false;
      return false;
    }
    const track = stream.getVideoTracks()[0];
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    await video.play();
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d');
    try {
      await invoke('use_webview_camera', { name: (track && track.label) || '' });
    } catch (_) {
      stream.getTracks().forEach((t) => t.stop());
      running = false;
      return false;
    }
    // One frame in flight at a time, at most about 15 per second.
    const pump = async () => {
      if (!running || video.videoWidth === 0) { if (running) setTimeout(pump, 100); return; }
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      ctx.drawImage(video, 0, 0);
      const data = canvas.toDataURL('image/jpeg', 0.85);
      const comma = data.indexOf(',');
      try {
        await invoke('push_frame', { jpeg: data.slice(comma + 1) });
      } catch (_) { /* a dropped frame; the preview reports a lost camera */ }
      setTimeout(pump, 66);
    };
    pump();
    return true;
  }

  return { start };
})();
