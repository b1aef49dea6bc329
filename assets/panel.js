// Atende panel: the only script. Sections with data-refresh="N" reload themselves every
// N seconds from the same page (no framework; the page works without it).
document.querySelectorAll('[data-refresh]').forEach((section) => {
  const seconds = Math.max(5, Number(section.dataset.refresh) || 10);
  setInterval(async () => {
    if (document.hidden) return;
    try {
      const response = await fetch(location.href, { credentials: 'same-origin' });
      if (!response.ok || response.redirected) return;
      const page = new DOMParser().parseFromString(await response.text(), 'text/html');
      const fresh = page.getElementById(section.id);
      if (fresh) section.innerHTML = fresh.innerHTML;
    } catch (_) {
      // Offline for a moment: keep what is shown.
    }
  }, seconds * 1000);
});
