() => {
  const seconds = (text) => {
    const parts = String(text).trim().split(':').map(Number);
    return parts.some(isNaN) ? NaN : parts.reduce((total, part) => total * 60 + part, 0);
  };
  const seek = (t) => {
    const video = document.querySelector('#player video');
    if (!video || !isFinite(t)) return;
    const go = () => { video.currentTime = t; };
    if (video.readyState >= 1) go(); else video.addEventListener('loadedmetadata', go, { once: true });
    video.closest('#player').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  };
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[href^="#t="]');
    if (link) {
      event.preventDefault();
      event.stopPropagation();
      seek(parseFloat(link.getAttribute('href').slice(3)));
      return;
    }
    const frame = event.target.closest('.frame-strip figure[data-t]');
    if (frame) { seek(parseFloat(frame.dataset.t)); return; }
    const thumbnail = event.target.closest('#frames button');
    const caption = thumbnail && thumbnail.querySelector('.caption-label, figcaption, span');
    if (caption) seek(seconds(caption.textContent));
  }, true);
}
