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

// The persona editor's live preview: the draft is answered as you type (after a pause) and
// on the preview button, without leaving the page. Without the script the button posts the
// form and the page comes back with the preview.
const persona = document.querySelector('form[data-preview]');
if (persona) {
  const section = document.getElementById('preview');
  const message = document.getElementById('preview-message');
  let timer = null;
  const preview = async () => {
    if (!message || !message.value.trim()) return;
    section.classList.add('loading');
    try {
      const response = await fetch(persona.dataset.preview, { method: 'POST', body: new URLSearchParams(new FormData(persona)) });
      const page = new DOMParser().parseFromString(await response.text(), 'text/html');
      const fresh = page.getElementById('preview');
      const error = page.getElementById('persona-error');
      if (fresh) section.innerHTML = (error ? error.outerHTML : '') + fresh.innerHTML;
    } finally {
      section.classList.remove('loading');
    }
  };
  document.getElementById('preview-button')?.addEventListener('click', (event) => {
    event.preventDefault();
    preview();
  });
  persona.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(preview, 1200);
  });
}

// Knowledge import: a chosen file is read into the form (its format from the extension),
// and the upload shows its progress.
const importForm = document.getElementById('import');
if (importForm) {
  const text = document.getElementById('import-text');
  const format = document.getElementById('import-format');
  const bar = document.getElementById('import-progress');
  document.getElementById('import-file')?.addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const extension = file.name.split('.').pop().toLowerCase();
    format.value = { md: 'markdown', markdown: 'markdown', jsonl: 'jsonl', ndjson: 'jsonl' }[extension] || 'csv';
    text.value = await file.text();
  });
  importForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open('POST', importForm.action);
    request.upload.onprogress = (progress) => {
      bar.hidden = false;
      if (progress.lengthComputable) bar.value = Math.round((100 * progress.loaded) / progress.total);
    };
    request.onload = () => {
      document.open();
      document.write(request.responseText);
      document.close();
    };
    request.send(new URLSearchParams(new FormData(importForm)));
  });
}
