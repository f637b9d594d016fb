// WardWatch: warns before automatic sign-out and leaves the page when the
// session ends. Reads its data from <script id="session-data">.
(function () {
  'use strict';

  var dataEl = document.getElementById('session-data');
  if (!dataEl) return;
  var d;
  try {
    d = JSON.parse(dataEl.textContent);
  } catch (e) {
    return;
  }
  var offset = d.now - Date.now(); // server clock minus ours
  var atLimit = d.expires >= d.end; // the absolute limit, which activity cannot extend

  function start() {
    var banner = document.getElementById('session-warning');
    var text = document.getElementById('session-warning-text');
    var stay = document.getElementById('session-stay');
    if (!banner || !text || !stay) return;
    // Activity cannot extend a session past its absolute limit.
    stay.hidden = atLimit;
    stay.addEventListener('click', function () {
      // Loading the page is activity: it extends the session.
      window.location.reload();
    });

    var countdown = document.createElement('span');
    countdown.className = 'countdown';
    countdown.setAttribute('aria-hidden', 'true');
    var shown = false;

    function clock(ms) {
      var s = Math.max(0, Math.ceil(ms / 1000));
      var m = Math.floor(s / 60);
      s = s % 60;
      return m + ':' + (s < 10 ? '0' : '') + s;
    }

    function tick() {
      var left = d.expires - (Date.now() + offset);
      if (left <= 0) {
        window.clearInterval(timer);
        // The server has ended the session too; reloading leads to sign-in
        // and back here afterwards.
        window.location.reload();
        return;
      }
      if (left > d.warnMs) return;
      if (!shown) {
        var at = new Date(d.expires - offset);
        var hhmm = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
        text.textContent = atLimit
          ? 'Your session reaches its time limit at ' + hhmm + '; you will then need to sign in again. '
          : 'For security, you will be signed out at ' + hhmm + ' because of inactivity. ';
        text.appendChild(countdown);
        banner.hidden = false;
        shown = true;
      }
      countdown.textContent = '(' + clock(left) + ' left)';
    }

    var timer = window.setInterval(tick, 1000);
    tick();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
