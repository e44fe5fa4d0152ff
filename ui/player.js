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
  // "Play from here": the player goes to the moment and plays; the same moment pressed again while it
  // plays (and is in sight) pauses it. Asked for before the player is ready (a preview still being made), the seek
  // waits and is honoured when the video arrives.
  let last = null;
  let pending = null;
  const seek = (t) => {
    if (!isFinite(t)) return;
    const box = player();
    const video = box && box.querySelector('video');
    if (!video) { pending = t; return; }
    pending = null;
    const shown = box.classList.contains('docked') || inSight(box);
    if (last === t && !video.paused && shown) { video.pause(); return; }  // out of sight: show it instead
    last = t;
    const go = () => {
      video.currentTime = t;
      const playing = video.play();
      if (playing) playing.catch(() => {});
    };
    if (video.readyState >= 1) go(); else video.addEventListener('loadedmetadata', go, { once: true });
    if (!box.classList.contains('docked') && !inSight(box)) dock(box);
  };
  new MutationObserver(() => {
    const video = pending !== null && document.querySelector('#player video');
    if (video) seek(pending);
  }).observe(document.body, { childList: true, subtree: true });
  // gradio marks each file attached to the question box as a list item with no list around it (axe:
  // aria-required-parent, serious; the box also holds the upload button): a labelled group instead.
  new MutationObserver(() => {
    document.querySelectorAll('#question [role="listitem"]').forEach((item) => item.setAttribute('role', 'group'));
  }).observe(document.body, { childList: true, subtree: true });
  // The question box has focus whenever the visitor can type: when it opens again after an answer,
  // Stop, Retry, Undo or Clear, unless the visitor went on to something else meanwhile.
  let wasLocked = false;
  const box = () => document.querySelector('#question textarea');
  new MutationObserver(() => {
    const area = box();
    if (!area) return;
    const locked = area.disabled;
    const idle = !document.activeElement || document.activeElement === document.body;
    if (wasLocked && !locked && idle) area.focus({ preventScroll: true });
    wasLocked = locked;
  }).observe(document.body, { attributes: true, attributeFilter: ['disabled'], subtree: true });
  // An example chosen (the box has it, ready to send), Clear or Undo pressed: the box takes the focus.
  const BACK_TO_BOX = '.gallery, [data-testid="examples"], .examples, #chat button[aria-label="Clear"], '
    + '#chat button[aria-label="Undo"]';
  document.addEventListener('click', (event) => {
    if (event.target.closest(BACK_TO_BOX)) {
      setTimeout(() => { const area = box(); if (area && !area.disabled) area.focus({ preventScroll: true }); }, 300);
    }
  });
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
