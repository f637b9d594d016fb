// WardWatch: live updates of the alert inbox and alert detail pages.
//
// Connects to /alerts/live. On the inbox, every event re-fetches the
// inbox's live part (/alerts/rows with the page's filters) and swaps it in;
// on an alert's page, an event about that alert shows a "changed" banner
// (never a reload: the user may be typing a note). Events flagged notify
// are announced in a dismissible banner (role="alert"). The socket
// reconnects with backoff; a signed-out session stops it. Without this
// script both pages work as plain HTML.
(function () {
  'use strict';

  var inbox = document.getElementById('inbox-live');
  var detail = document.getElementById('inbox-detail');
  if (!inbox && !detail) return;
  if (!('WebSocket' in window) || !window.fetch) return;

  var statusEl = document.getElementById('inbox-status');
  var notifyEl = document.getElementById('inbox-notify');
  var notifyText = document.getElementById('inbox-notify-text');
  var notifyLink = document.getElementById('inbox-notify-link');
  var notifyClose = document.getElementById('inbox-notify-close');
  var changedEl = document.getElementById('inbox-changed');
  var alertId = detail ? Number(detail.getAttribute('data-alert')) : 0;

  function setStatus(text) {
    if (statusEl && statusEl.textContent !== text) statusEl.textContent = text;
  }

  // ---- announcements ----

  if (notifyClose && notifyEl) {
    notifyClose.addEventListener('click', function () {
      notifyEl.hidden = true;
    });
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && !notifyEl.hidden) notifyEl.hidden = true;
    });
  }

  function announce(ev) {
    if (!notifyEl || !notifyText) return;
    var title = String(ev.title || '');
    var label = ev.priority ? String(ev.priority).charAt(0).toUpperCase() + String(ev.priority).slice(1) : '';
    // Titles usually name the priority already ("Critical: …").
    if (label && title.toLowerCase().indexOf(label.toLowerCase()) !== 0) {
      title = label + ' alert: ' + title;
    }
    notifyText.textContent = title;
    if (notifyLink && ev.id > 0) notifyLink.setAttribute('href', '/alerts/' + String(Math.floor(ev.id)));
    // Re-showing an already visible role="alert" region does not always
    // announce again; hide it for a moment first.
    notifyEl.hidden = true;
    window.setTimeout(function () {
      notifyEl.hidden = false;
    }, 50);
  }

  // ---- inbox reload ----

  var loading = false;
  var again = false;
  var lastLoad = 0;
  var minGap = 500; // ms between reloads, so a burst of events costs one fetch

  function rowsURL() {
    return inbox.getAttribute('data-rows') || '/alerts/rows' + window.location.search;
  }

  function reloadRows() {
    if (!inbox) return;
    if (loading) {
      again = true;
      return;
    }
    var wait = lastLoad + minGap - Date.now();
    if (wait > 0) {
      loading = true;
      window.setTimeout(function () {
        loading = false;
        reloadRows();
      }, wait);
      return;
    }
    loading = true;
    again = false;
    lastLoad = Date.now();
    fetch(rowsURL(), { credentials: 'same-origin', headers: { Accept: 'text/html' }, cache: 'no-store' })
      .then(function (resp) {
        if (resp.status === 401) {
          stopped = true;
          setStatus('Live updates stopped: you are signed out. Reload the page to sign in.');
          return null;
        }
        if (!resp.ok) throw new Error('status ' + resp.status);
        return resp.text();
      })
      .then(function (html) {
        if (html !== null) swap(html);
      })
      .catch(function () {
        setStatus('Could not refresh the list; it will try again with the next change.');
      })
      .then(function () {
        loading = false;
        if (again) reloadRows();
      });
  }

  // swap replaces the inbox's live part, keeping keyboard focus on the same
  // control when it is still there.
  function swap(html) {
    var active = document.activeElement;
    var focusId = active && inbox.contains(active) ? active.id : '';
    var tpl = document.createElement('template');
    tpl.innerHTML = html;
    inbox.replaceChildren(tpl.content);
    // Rows acknowledge through htmx (hx-post): let it see the new ones.
    if (window.htmx) window.htmx.process(inbox);
    if (focusId) {
      var el = document.getElementById(focusId);
      if (el) el.focus();
    }
  }

  // ---- socket ----

  var ws = null;
  var stopped = false;
  var lastSeq = 0;
  var backoff = 1000;
  var maxBackoff = 30000;
  var openedAt = 0;

  function url() {
    var proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    return proto + '//' + window.location.host + '/alerts/live';
  }

  function onEvent(ev) {
    if (typeof ev !== 'object' || ev === null || typeof ev.seq !== 'number') return;
    var gap = lastSeq !== 0 && ev.seq !== lastSeq + 1;
    lastSeq = ev.seq;
    if (ev.notify) announce(ev);
    if (inbox) {
      reloadRows();
    } else if (changedEl && (ev.id === alertId || gap)) {
      changedEl.hidden = false;
    }
  }

  function connect() {
    if (stopped) return;
    try {
      ws = new WebSocket(url());
    } catch (e) {
      retry();
      return;
    }
    ws.onopen = function () {
      openedAt = Date.now();
      setStatus('Live updates on.');
      // Changes may have happened while the socket was down.
      if (lastSeq !== 0) {
        if (inbox) reloadRows();
        else if (changedEl) changedEl.hidden = false;
      }
    };
    ws.onmessage = function (m) {
      var ev;
      try {
        ev = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      onEvent(ev);
    };
    ws.onclose = function () {
      ws = null;
      if (openedAt && Date.now() - openedAt > 10000) backoff = 1000; // it ran well: start over
      openedAt = 0;
      retry();
    };
  }

  // retry checks the session (a plain GET answers 204 or 401) and
  // reconnects after the backoff.
  function retry() {
    if (stopped) return;
    setStatus('Live updates paused; reconnecting…');
    var delay = backoff + Math.floor(Math.random() * backoff * 0.3);
    backoff = Math.min(backoff * 2, maxBackoff);
    window.setTimeout(function () {
      fetch('/alerts/live', { credentials: 'same-origin', cache: 'no-store' })
        .then(function (resp) {
          if (resp.status === 401 || resp.status === 403) {
            stopped = true;
            setStatus('Live updates stopped: you are signed out. Reload the page to sign in.');
            return;
          }
          connect();
        })
        .catch(function () {
          retry();
        });
    }, delay);
  }

  window.addEventListener('pagehide', function () {
    stopped = true;
    if (ws) ws.close();
  });
  window.addEventListener('pageshow', function (e) {
    if (!e.persisted) return;
    // Back from the browser's page cache: catch up and listen again.
    stopped = false;
    backoff = 1000;
    if (inbox) reloadRows();
    connect();
  });

  connect();
})();
