() => {
  // Seeking: a time link (#t=SECONDS) or a frame (data-t) sets the player's time. A player out of
  // sight docks as a small fixed player instead of scrolling the page: the visitor stays where
  // they were reading. Escape (or its close button) puts it back.
  const player = () => document.querySelector('#player');
  const inSight = (box) => {
    const r = box.getBoundingClientRect();
    return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight;
  };
  const undock = () => {
    const box = document.querySelector('#player.docked');
    if (!box) return false;
    box.classList.remove('docked');
    return true;
  };
  const dock = (box) => {
    box.classList.add('docked');
    if (!box.querySelector('.undock')) {
      const close = document.createElement('button');
      close.type = 'button';
      close.className = 'undock';
      close.setAttribute('aria-label', 'Close the small player');
      close.textContent = '×';
      close.addEventListener('click', undock);
      box.appendChild(close);
    }
  };
  const seek = (t) => {
    const box = player();
    const video = box && box.querySelector('video');
    if (!video || !isFinite(t)) return;
    const go = () => { video.currentTime = t; };
    if (video.readyState >= 1) go(); else video.addEventListener('loadedmetadata', go, { once: true });
    if (!box.classList.contains('docked') && !inSight(box)) dock(box);
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
    if (frame) seek(parseFloat(frame.dataset.t));
  }, true);
  // A strip is one tab stop: arrow keys, Home and End move between its frames; Enter or Space seeks.
  const MOVES = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && undock()) { event.preventDefault(); return; }
    const frame = event.target.closest && event.target.closest('.frame-strip figure[data-t]');
    if (!frame) return;
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      seek(parseFloat(frame.dataset.t));
      return;
    }
    const frames = [...frame.parentElement.querySelectorAll('figure[data-t]')];
    let i = frames.indexOf(frame);
    if (event.key in MOVES) i = Math.max(0, Math.min(frames.length - 1, i + MOVES[event.key]));
    else if (event.key === 'Home') i = 0;
    else if (event.key === 'End') i = frames.length - 1;
    else return;
    event.preventDefault();
    frames.forEach((f) => { f.tabIndex = -1; });
    frames[i].tabIndex = 0;
    frames[i].focus();
    frames[i].scrollIntoView({ block: 'nearest', inline: 'nearest' });
  });
}
