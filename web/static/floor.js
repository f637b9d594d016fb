// WardWatch floor page: the live map (Leaflet, CRS.Simple, floor metres) and
// the equipment table, kept up to date from the floor's websocket.
//
// Page data comes from <script type="application/json" id="floor-data">.
// The table rows rendered by the server are the initial state; each row
// carries its asset's position in data- attributes, kept current here.
//
// Websocket messages (server → client):
//   {"t":"snap","floor":F,"now":MS,"a":[[id,x,y,zoneId,tsMs,conf],…]}  full state
//   {"t":"pos","now":MS,"a":[[id,x,y,zoneId,tsMs,conf],…]}             changes
//   {"t":"gone","a":[id,…]}                                             left the floor
(function () {
  'use strict';

  var dataEl = document.getElementById('floor-data');
  var mapEl = document.getElementById('map');
  if (!dataEl || !mapEl) return;
  var data = JSON.parse(dataEl.textContent);

  var body = document.body;
  var tbody = document.getElementById('asset-rows');
  var countEl = document.getElementById('asset-count');
  var emptyEl = document.getElementById('assets-empty');
  var filterEl = document.getElementById('asset-filter');
  var bannerEl = document.getElementById('reconnect-banner');
  var statusEl = document.getElementById('live-status');
  var statusText = document.getElementById('live-status-text');
  var noteEl = document.getElementById('map-note');

  // ---- clock -------------------------------------------------------------

  // Ages are computed on the server's clock: offset = server − client.
  var clockOffset = data.now - Date.now();
  function serverNow() {
    return Date.now() + clockOffset;
  }

  // formatAge mirrors web.formatAge in Go.
  function formatAge(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + ' s ago';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min ago';
    var h = Math.floor(m / 60);
    if (h < 48) return h + ' h ago';
    return Math.floor(h / 24) + ' d ago';
  }

  // ---- reference data ----------------------------------------------------

  var assets = new Map();
  data.assets.forEach(function (a) {
    assets.set(a.id, a);
  });
  var kindLabels = new Map();
  data.kinds.forEach(function (k) {
    kindLabels.set(k.kind, k.label);
  });
  var zones = new Map();
  data.zones.forEach(function (z) {
    zones.set(z.id, z);
  });

  function assetInfo(id) {
    var a = assets.get(id);
    if (a) return a;
    return { id: id, name: 'Asset ' + id, kind: 'other' };
  }
  function kindLabel(kind) {
    return kindLabels.get(kind) || 'Other';
  }
  function roomName(zoneId) {
    var z = zones.get(zoneId);
    return z ? z.name : '';
  }

  // Colours come from the stylesheet, so the legend and the map agree.
  var css = window.getComputedStyle(document.documentElement);
  function cssVar(name, fallback) {
    var v = css.getPropertyValue(name).trim();
    return v || fallback;
  }
  var colours = {};
  data.kinds.forEach(function (k) {
    colours[k.kind] = cssVar('--kind-' + k.kind, '#56b4e9');
  });
  var staleColour = cssVar('--stale', '#7b8794');
  var zoneColour = cssVar('--zone-line', '#51606e');
  var selectColour = cssVar('--ink', '#14202b');

  // ---- map ---------------------------------------------------------------

  var W = data.floor.width > 0 ? data.floor.width : 1;
  var H = data.floor.height > 0 ? data.floor.height : 1;
  // Floor metres to map coordinates: lat = −y, lng = x.
  function ll(x, y) {
    return [-y, x];
  }
  var bounds = L.latLngBounds([[-H, 0], [0, W]]);

  // The map is as tall as the floor's shape needs at the map's width, within
  // limits, so a long thin ward does not leave a tall empty box.
  function sizeMap() {
    var width = mapEl.clientWidth || 600;
    var ideal = (width - 24) * (H / W) + 24;
    var max = Math.max(320, window.innerHeight - 240);
    mapEl.style.height = Math.round(Math.min(max, Math.max(220, ideal))) + 'px';
  }
  sizeMap();

  var map = L.map(mapEl, {
    crs: L.CRS.Simple,
    preferCanvas: true,
    attributionControl: false,
    minZoom: -8,
    maxZoom: 12,
    zoomSnap: 0.25,
    zoomDelta: 0.5,
    wheelPxPerZoomLevel: 120,
  });
  var plan = L.imageOverlay(data.planUrl, bounds, {
    alt: 'Floor plan of ' + data.floor.name,
    className: 'floor-plan',
  }).addTo(map);
  plan.on('error', function () {
    noteEl.textContent = 'The floor plan image could not be loaded; rooms and equipment are still shown.';
    noteEl.hidden = false;
  });
  L.rectangle(bounds, { color: zoneColour, weight: 1, fill: false, interactive: false }).addTo(map);

  function fitFloor() {
    map.fitBounds(bounds, { padding: [12, 12], animate: false });
  }
  fitFloor();
  var fitZoom = map.getZoom();
  map.setMinZoom(fitZoom - 1);
  map.setMaxZoom(fitZoom + 5);
  map.setMaxBounds(bounds.pad(0.5));
  var resizeTimer = null;
  window.addEventListener('resize', function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () {
      sizeMap();
      map.invalidateSize();
    }, 150);
  });
  map.on('resize', function () {
    var z = map.getBoundsZoom(bounds);
    map.setMinZoom(z - 1);
    map.setMaxZoom(z + 5);
  });

  // "Whole floor" control.
  var FitControl = L.Control.extend({
    options: { position: 'topleft' },
    onAdd: function () {
      var b = L.DomUtil.create('button', 'map-fit leaflet-bar');
      b.type = 'button';
      b.textContent = 'Whole floor';
      b.title = 'Show the whole floor';
      L.DomEvent.disableClickPropagation(b);
      L.DomEvent.on(b, 'click', fitFloor);
      return b;
    },
  });
  new FitControl().addTo(map);

  function textEl(tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    el.textContent = text;
    return el;
  }

  data.zones.forEach(function (z) {
    if (!z.polygon || z.polygon.length < 3) return;
    L.polygon(
      z.polygon.map(function (p) {
        return ll(p.x, p.y);
      }),
      { color: zoneColour, weight: 1, opacity: 0.55, fillColor: zoneColour, fillOpacity: 0.03 },
    )
      .bindTooltip(textEl('span', '', z.name), { sticky: true, className: 'zone-tip', direction: 'top' })
      .addTo(map);
  });

  // ---- assets: one entry per asset on the floor ---------------------------
  //
  // entry = {id, x, y, zone, ts, conf, stale, row, marker, tip, cells}

  var entries = new Map();
  var selected = null;
  // A ring drawn around the selected asset's marker.
  var halo = L.circleMarker([0, 0], { radius: 17, color: cssVar('--accent', '#075f91'), weight: 4, fill: false, interactive: false });

  function markerStyle(e) {
    var sel = selected === e;
    var style = e.stale
      ? { color: sel ? selectColour : staleColour, fillColor: staleColour, fillOpacity: 0, weight: sel ? 3 : 2.5, dashArray: '3 3' }
      : { color: sel ? selectColour : '#ffffff', fillColor: colours[e.kind] || colours.other, fillOpacity: 0.95, weight: sel ? 3 : 2, dashArray: null };
    style.radius = sel ? 11 : 7;
    return style;
  }

  function buildTooltip() {
    var box = document.createElement('div');
    box.className = 'asset-tip';
    var tip = {
      box: box,
      name: box.appendChild(textEl('strong', 'tip-name', '')),
      kind: box.appendChild(textEl('div', 'tip-kind', '')),
      room: box.appendChild(textEl('div', 'tip-room', '')),
      seen: box.appendChild(textEl('div', 'tip-seen', '')),
      conf: box.appendChild(textEl('div', 'tip-conf', '')),
      detail: box.appendChild(textEl('div', 'tip-detail', '')),
    };
    return tip;
  }

  function fillTooltip(e, now) {
    var room = roomName(e.zone);
    e.tip.name.textContent = e.name;
    e.tip.kind.textContent = kindLabel(e.kind);
    e.tip.room.textContent = room ? 'Room ' + room : 'Not in a room';
    e.tip.seen.textContent = 'Last seen ' + formatAge(now - e.ts);
    e.tip.conf.textContent = 'Confidence ' + Math.round(Math.max(0, Math.min(1, e.conf)) * 100) + '%';
    e.tip.detail.textContent = assetInfo(e.id).detail || '';
    e.tip.box.classList.toggle('is-stale', e.stale);
  }

  function buildRow(e) {
    var tr = document.createElement('tr');
    tr.className = 'asset-row';
    tr.dataset.assetId = String(e.id);
    tr.dataset.kind = e.kind;
    var name = document.createElement('td');
    name.className = 'col-name';
    var btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'asset-link';
    var sw = document.createElement('span');
    sw.className = 'swatch kind-' + e.kind;
    sw.setAttribute('aria-hidden', 'true');
    btn.appendChild(sw);
    btn.appendChild(textEl('span', 'asset-name', e.name));
    name.appendChild(btn);
    tr.appendChild(name);
    tr.appendChild(textEl('td', 'col-kind', kindLabel(e.kind)));
    tr.appendChild(textEl('td', 'col-room', ''));
    tr.appendChild(textEl('td', 'col-seen', ''));
    return tr;
  }

  function rowCells(tr) {
    return { room: tr.querySelector('.col-room'), seen: tr.querySelector('.col-seen') };
  }

  // insertSorted keeps rows in the server's order: by lower-cased name.
  function insertSorted(tr, name) {
    var key = name.toLowerCase();
    var rows = tbody.rows;
    for (var i = 0; i < rows.length; i++) {
      var other = entries.get(Number(rows[i].dataset.assetId));
      if (other && other.row !== tr && other.name.toLowerCase() > key) {
        tbody.insertBefore(tr, rows[i]);
        return;
      }
    }
    tbody.appendChild(tr);
  }

  function setRoom(e) {
    if (e.shownZone === e.zone) return;
    e.shownZone = e.zone;
    var room = roomName(e.zone);
    if (room) {
      e.cells.room.textContent = room;
    } else {
      e.cells.room.textContent = '';
      e.cells.room.appendChild(textEl('span', 'muted', '—'));
    }
  }

  function refresh(e, now) {
    var age = now - e.ts;
    var stale = age > data.staleAfterMs;
    var text;
    if (stale) {
      var room = roomName(e.zone);
      text = 'last seen ' + formatAge(age) + (room ? ' in ' + room : '');
    } else {
      text = formatAge(age);
    }
    if (e.cells.seen.textContent !== text) e.cells.seen.textContent = text;
    if (stale !== e.stale) {
      e.stale = stale;
      e.row.classList.toggle('is-stale', stale);
      e.marker.setStyle(markerStyle(e));
    }
    if (e.marker.isTooltipOpen()) fillTooltip(e, now);
  }

  function createEntry(id, tr) {
    var info = assetInfo(id);
    var e = { id: id, name: info.name, kind: info.kind, stale: null, row: tr, hidden: false };
    if (!e.row) {
      e.row = buildRow(e);
      insertSorted(e.row, e.name);
    }
    e.cells = rowCells(e.row);
    e.tip = buildTooltip();
    e.marker = L.circleMarker([0, 0], { radius: 7 });
    e.marker.bindTooltip(e.tip.box, { direction: 'auto', offset: [14, 0], className: 'asset-tooltip' });
    e.marker.on('tooltipopen', function () {
      // Leaflet placed the tooltip for its old content; fill, then re-place.
      fillTooltip(e, serverNow());
      e.marker.getTooltip().update();
    });
    e.marker.on('click', function () {
      select(e, false);
    });
    entries.set(id, e);
    return e;
  }

  function setPosition(e, x, y, zone, ts, conf) {
    e.x = x;
    e.y = y;
    e.zone = zone;
    e.ts = ts;
    e.conf = conf;
    e.row.dataset.x = String(x);
    e.row.dataset.y = String(y);
    e.row.dataset.zoneId = String(zone);
    e.row.dataset.ts = String(ts);
    e.row.dataset.conf = String(conf);
    e.marker.setLatLng(ll(x, y));
    if (selected === e) halo.setLatLng(ll(x, y));
    setRoom(e);
    refresh(e, serverNow());
    applyFilter(e);
    if (e.marker.isTooltipOpen()) e.marker.getTooltip().update();
  }

  function finite(v) {
    return typeof v === 'number' && isFinite(v);
  }

  function upsert(p) {
    if (!Array.isArray(p) || p.length < 6) return;
    var id = p[0];
    if (!finite(id) || !finite(p[1]) || !finite(p[2]) || !finite(p[4])) return;
    var e = entries.get(id) || createEntry(id, null);
    setPosition(e, p[1], p[2], finite(p[3]) ? p[3] : 0, p[4], finite(p[5]) ? p[5] : 0);
  }

  function remove(id) {
    var e = entries.get(id);
    if (!e) return;
    if (selected === e) {
      selected = null;
      halo.remove();
    }
    e.marker.remove();
    e.row.remove();
    entries.delete(id);
  }

  function updateCount() {
    var n = entries.size;
    countEl.textContent = String(n);
    emptyEl.hidden = n > 0;
  }

  // ---- selection ---------------------------------------------------------

  function select(e, pan) {
    var prev = selected;
    selected = e;
    if (prev && prev !== e) {
      prev.row.classList.remove('is-selected');
      prev.row.removeAttribute('aria-selected');
      prev.marker.setStyle(markerStyle(prev));
      prev.marker.closeTooltip();
    }
    e.row.classList.add('is-selected');
    e.row.setAttribute('aria-selected', 'true');
    e.marker.setStyle(markerStyle(e)); // CircleMarker.setStyle applies the radius too
    halo.setLatLng(e.marker.getLatLng()).addTo(map);
    halo.bringToFront();
    e.marker.bringToFront();
    fillTooltip(e, serverNow());
    if (pan) {
      map.panTo(e.marker.getLatLng());
    } else {
      e.row.scrollIntoView({ block: 'nearest' });
    }
    e.marker.openTooltip();
  }

  tbody.addEventListener('click', function (ev) {
    var tr = ev.target.closest('tr[data-asset-id]');
    if (!tr) return;
    var e = entries.get(Number(tr.dataset.assetId));
    if (e && !e.hidden) select(e, true);
  });

  // ---- filter ------------------------------------------------------------

  var filterText = '';
  function matches(e) {
    if (!filterText) return true;
    var hay = (e.name + ' ' + kindLabel(e.kind) + ' ' + roomName(e.zone)).toLowerCase();
    return hay.indexOf(filterText) !== -1;
  }
  function applyFilter(e) {
    var show = matches(e);
    e.hidden = !show;
    e.row.hidden = !show;
    if (show && !map.hasLayer(e.marker)) e.marker.addTo(map);
    if (!show && map.hasLayer(e.marker)) {
      e.marker.remove();
      if (selected === e) halo.remove();
    }
  }
  if (filterEl) {
    filterEl.addEventListener('input', function () {
      filterText = filterEl.value.trim().toLowerCase();
      entries.forEach(applyFilter);
    });
  }

  // ---- initial state from the server-rendered rows ----------------------

  Array.prototype.forEach.call(tbody.querySelectorAll('tr[data-asset-id]'), function (tr) {
    var id = Number(tr.dataset.assetId);
    var e = createEntry(id, tr);
    setPosition(e, Number(tr.dataset.x), Number(tr.dataset.y), Number(tr.dataset.zoneId), Number(tr.dataset.ts), Number(tr.dataset.conf));
  });
  updateCount();

  // ---- live updates ------------------------------------------------------

  function handle(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (finite(msg.now)) clockOffset = msg.now - Date.now();
    var list = Array.isArray(msg.a) ? msg.a : [];
    switch (msg.t) {
      case 'snap':
        var keep = new Set();
        list.forEach(function (p) {
          if (Array.isArray(p)) keep.add(p[0]);
        });
        Array.from(entries.keys()).forEach(function (id) {
          if (!keep.has(id)) remove(id);
        });
        list.forEach(upsert);
        break;
      case 'pos':
        list.forEach(upsert);
        break;
      case 'gone':
        list.forEach(remove);
        break;
      default:
        return;
    }
    updateCount();
  }

  function setLive(state) {
    body.dataset.live = state;
    statusEl.dataset.state = state;
    statusText.textContent = state === 'open' ? 'Live' : state === 'reconnecting' ? 'Reconnecting…' : 'Connecting…';
    bannerEl.hidden = state !== 'reconnecting';
  }

  var socket = null;
  var attempts = 0;
  var retryTimer = null;

  function connect() {
    retryTimer = null;
    var scheme = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
    var ws;
    try {
      ws = new WebSocket(scheme + window.location.host + data.livePath);
    } catch (err) {
      reconnect();
      return;
    }
    socket = ws;
    ws.onopen = function () {
      attempts = 0;
      setLive('open');
    };
    ws.onmessage = function (ev) {
      var msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (err) {
        return;
      }
      handle(msg);
    };
    ws.onclose = function () {
      if (socket !== ws) return;
      socket = null;
      reconnect();
    };
  }

  // reconnect waits with exponential backoff (1 s doubling to 30 s, with
  // jitter), but first asks the server whether we are still signed in: a
  // plain GET of the websocket address answers 401 when the session is over.
  function reconnect() {
    if (retryTimer !== null) return;
    setLive('reconnecting');
    var delay = Math.min(30000, 1000 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
    attempts++;
    retryTimer = window.setTimeout(function () {
      window
        .fetch(data.livePath, { credentials: 'same-origin', cache: 'no-store', redirect: 'manual' })
        .then(
          function (res) {
            if (res.status === 401) {
              window.location.assign('/login?next=' + encodeURIComponent(window.location.pathname));
              return;
            }
            connect();
          },
          function () {
            retryTimer = null;
            reconnect();
          },
        );
    }, delay);
  }

  setLive('connecting');
  connect();

  // Ages move on even when nothing arrives.
  window.setInterval(function () {
    var now = serverNow();
    entries.forEach(function (e) {
      refresh(e, now);
    });
  }, 1000);

  window.addEventListener('pageshow', function (ev) {
    if (ev.persisted && !socket && retryTimer === null) connect();
  });
  window.addEventListener('pagehide', function () {
    if (socket) {
      var ws = socket;
      socket = null;
      ws.close();
    }
  });
})();
