// WardWatch floor page: the live map (Leaflet, CRS.Simple, floor metres) and
// the equipment table, kept up to date from the floor's websocket.
//
// Page data comes from <script type="application/json" id="floor-data">:
// reference data and every asset's position ("positions", in the websocket's
// entry format). The server renders one page of the equipment table
// (?page=N); this script then pages and filters the table in place. Each row
// carries its asset's position in data- attributes, kept current here.
//
// At hospital scale (thousands of markers moving every second) the map is
// updated once per animation frame, never per message: messages only record
// the newest position per asset, and the frame applies them in one batch
// (moving markers inside the cluster group with one removeLayers/addLayers
// pair). The table is updated at most once a second, and only its visible
// page. Markers cluster (leaflet.markercluster) when more than
// CLUSTER_ON markers are shown, until zoomed in far enough to see a room's
// equipment one by one (clusterZoomLimit), where the markers move to a plain
// layer again. Clicking a cluster zooms to it. ?cluster=off turns clustering off and ?apply=direct
// applies each message as it arrives (both for comparisons).
//
// window.wardwatchFloorStats counts the work done per batch, for
// cmd/maploadtest.
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
  var pagerEl = document.getElementById('asset-pager');

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
    // A zoom animation still running would end at its own target after
    // the fit; fit once it has ended (Leaflet 1.9's _animatingZoom).
    if (map._animatingZoom) {
      map.once('zoomend', fitFloor);
      return;
    }
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
    if (z === fitZoom) return;
    fitZoom = z;
    map.setMinZoom(z - 1);
    map.setMaxZoom(z + 5);
    // The cluster group builds its levels for the zoom range it was added
    // with: build it again for the new one.
    if (typeof rebuildMarkerLayer === 'function') rebuildMarkerLayer();
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

  // ---- work counters (read by cmd/maploadtest) ---------------------------

  var BATCH_LOG = 20000; // batch durations kept, newest last
  var stats = {
    messages: 0, // websocket messages received
    parseMs: 0, // time spent in JSON.parse of messages
    batches: 0, // animation frames that applied positions
    applied: 0, // positions applied to markers
    batchMs: [], // duration of each batch (ms)
    tableRenders: 0,
    tableMs: 0,
    icons: 0, // cluster icons drawn
    clustered: false,
    zoom: null, // the map's zoom after the last zoom
    markers: 0,
    reset: function () {
      stats.messages = 0;
      stats.parseMs = 0;
      stats.batches = 0;
      stats.applied = 0;
      stats.batchMs = [];
      stats.tableRenders = 0;
      stats.tableMs = 0;
      stats.icons = 0;
    },
  };
  window.wardwatchFloorStats = stats;

  // ---- assets: one entry per asset on the floor ---------------------------
  //
  // entry = {id, name, kind, x, y, zone, ts, conf, stale, hidden, marker,
  //          row, cells (row and cells only while on the table's page)}

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

  // The asset card is built when it first opens, not for every marker.
  function tipOf(e) {
    if (!e.tip) {
      var box = document.createElement('div');
      box.className = 'asset-tip';
      e.tip = {
        box: box,
        name: box.appendChild(textEl('strong', 'tip-name', '')),
        kind: box.appendChild(textEl('div', 'tip-kind', '')),
        room: box.appendChild(textEl('div', 'tip-room', '')),
        seen: box.appendChild(textEl('div', 'tip-seen', '')),
        conf: box.appendChild(textEl('div', 'tip-conf', '')),
        detail: box.appendChild(textEl('div', 'tip-detail', '')),
      };
    }
    return e.tip;
  }

  function fillTooltip(e, now) {
    var tip = tipOf(e);
    var room = roomName(e.zone);
    tip.name.textContent = e.name;
    tip.kind.textContent = kindLabel(e.kind);
    tip.room.textContent = room ? 'Room ' + room : 'Not in a room';
    tip.seen.textContent = 'Last seen ' + formatAge(now - e.ts);
    tip.conf.textContent = 'Confidence ' + Math.round(Math.max(0, Math.min(1, e.conf)) * 100) + '%';
    tip.detail.textContent = assetInfo(e.id).detail || '';
    tip.box.classList.toggle('is-stale', !!e.stale);
    return tip.box;
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

  function attachRow(e, tr) {
    e.row = tr;
    e.cells = { room: tr.querySelector('.col-room'), seen: tr.querySelector('.col-seen') };
    e.shownZone = undefined;
    e.shownSeen = undefined;
    e.shownTs = undefined;
    if (!e.cells.room || !e.cells.seen) {
      // Not a row this script understands: build a fresh one.
      tr = buildRow(e);
      e.row = tr;
      e.cells = { room: tr.querySelector('.col-room'), seen: tr.querySelector('.col-seen') };
    }
  }

  function detachRow(e) {
    if (!e.row) return;
    e.row.remove();
    e.row = null;
    e.cells = null;
  }

  // seenText is the "Last seen" text: stale positions say where and when.
  function seenText(e, now) {
    var age = now - e.ts;
    if (age > data.staleAfterMs) {
      var room = roomName(e.zone);
      return 'last seen ' + formatAge(age) + (room ? ' in ' + room : '');
    }
    return formatAge(age);
  }

  // fillRow brings a row on the page up to date with its entry.
  function fillRow(e, now) {
    var tr = e.row;
    if (e.shownTs !== e.ts || tr.dataset.x !== String(e.x) || tr.dataset.y !== String(e.y)) {
      e.shownTs = e.ts;
      tr.dataset.x = String(e.x);
      tr.dataset.y = String(e.y);
      tr.dataset.zoneId = String(e.zone);
      tr.dataset.ts = String(e.ts);
      tr.dataset.conf = String(e.conf);
    }
    if (e.shownZone !== e.zone) {
      e.shownZone = e.zone;
      var room = roomName(e.zone);
      if (room) {
        e.cells.room.textContent = room;
      } else {
        e.cells.room.textContent = '';
        e.cells.room.appendChild(textEl('span', 'muted', '—'));
      }
    }
    var text = seenText(e, now);
    if (e.shownSeen !== text) {
      e.shownSeen = text;
      e.cells.seen.textContent = text;
    }
    tr.classList.toggle('is-stale', !!e.stale);
    var sel = selected === e;
    tr.classList.toggle('is-selected', sel);
    if (sel) tr.setAttribute('aria-selected', 'true');
    else tr.removeAttribute('aria-selected');
  }

  // updateStale recomputes e.stale at now; it returns whether it changed.
  function updateStale(e, now) {
    var stale = now - e.ts > data.staleAfterMs;
    if (stale === e.stale) return false;
    e.stale = stale;
    e.marker.setStyle(markerStyle(e));
    return true;
  }

  function createEntry(id) {
    var info = assetInfo(id);
    var e = { id: id, name: info.name, kind: info.kind, key: info.name.toLowerCase(), stale: null, hidden: false, row: null, cells: null, tip: null };
    e.marker = L.circleMarker([0, 0], { radius: 7 });
    e.marker.wwEntry = e;
    e.marker.bindTooltip(
      function () {
        return fillTooltip(e, serverNow());
      },
      { direction: 'auto', offset: [14, 0], className: 'asset-tooltip' },
    );
    e.marker.on('click', function () {
      select(e, false);
    });
    entries.set(id, e);
    orderCache = null;
    tableDirty = true;
    return e;
  }

  function finite(v) {
    return typeof v === 'number' && isFinite(v);
  }

  // valid reports whether p is a usable [id,x,y,zoneId,tsMs,conf] entry.
  function valid(p) {
    return Array.isArray(p) && p.length >= 6 && finite(p[0]) && finite(p[1]) && finite(p[2]) && finite(p[4]);
  }

  // ---- the marker layer: a cluster group, or a plain group when few ------

  var CLUSTER_ON = 200; // cluster when more markers than this are shown…
  var CLUSTER_OFF = 150; // …and stop below this
  var clusterAllowed = typeof L.markerClusterGroup === 'function' && !/[?&]cluster=off\b/.test(window.location.search);
  var layer = null; // L.MarkerClusterGroup or L.LayerGroup
  var clustering = false;
  var shownCount = 0; // markers not hidden by the filter

  function kindOrder(kind) {
    for (var i = 0; i < data.kinds.length; i++) if (data.kinds[i].kind === kind) return i;
    return data.kinds.length;
  }

  // clusterLook is what a cluster's icon shows: its count in a ring split
  // by the share of each kind (and of stale assets, grey), like the legend.
  function clusterLook(cluster) {
    stats.icons++;
    var ms = cluster.getAllChildMarkers();
    var n = ms.length;
    var counts = {};
    var stale = 0;
    for (var i = 0; i < n; i++) {
      var e = ms[i].wwEntry;
      if (!e) continue;
      if (e.stale) stale++;
      else counts[e.kind] = (counts[e.kind] || 0) + 1;
    }
    var parts = [];
    var words = [];
    var at = 0;
    data.kinds.forEach(function (k) {
      var c = counts[k.kind];
      if (!c) return;
      var to = at + (c / n) * 360;
      parts.push((colours[k.kind] || colours.other) + ' ' + at.toFixed(1) + 'deg ' + to.toFixed(1) + 'deg');
      words.push(c + ' ' + k.label.toLowerCase());
      at = to;
    });
    if (stale) {
      parts.push(staleColour + ' ' + at.toFixed(1) + 'deg 360deg');
      words.push(stale + ' not seen recently');
    }
    return {
      n: n,
      size: n < 100 ? 34 : n < 1000 ? 40 : 48,
      background: parts.length ? 'conic-gradient(' + parts.join(', ') + ')' : '',
      label: n + ' assets here: ' + words.join(', ') + '. Zoom in to see them.',
    };
  }

  function paintCluster(el, look) {
    if (el.wwBackground !== look.background) {
      el.wwBackground = look.background;
      el.style.background = look.background;
    }
    var text = String(look.n);
    if (el.firstChild.textContent !== text) el.firstChild.textContent = text;
    if (el.title !== look.label) {
      el.title = look.label;
      el.setAttribute('aria-label', look.label);
    }
  }

  function clusterIcon(cluster) {
    var look = clusterLook(cluster);
    var el = document.createElement('div');
    el.className = 'cluster-ring';
    el.setAttribute('role', 'img'); // its label names the focusable cluster marker
    el.wwSize = look.size;
    el.appendChild(textEl('span', 'cluster-count', ''));
    paintCluster(el, look);
    return L.divIcon({ html: el, className: 'asset-cluster', iconSize: L.point(look.size, look.size) });
  }

  // Cluster repaints its icon in place when only the numbers changed,
  // instead of building and swapping a new element for every update
  // (leaflet.markercluster 1.5.3: _updateIcon, _iconObj and
  // _iconNeedsUpdate are its own).
  var Cluster =
    L.MarkerClusterNonAnimated &&
    L.MarkerClusterNonAnimated.extend({
      _updateIcon: function () {
        var el = this._iconObj && this._iconObj.options.html;
        if (this._icon && el && el.parentNode === this._icon) {
          var look = clusterLook(this);
          if (look.size === el.wwSize) {
            paintCluster(el, look);
            this._iconNeedsUpdate = false;
            return;
          }
        }
        L.MarkerClusterNonAnimated.prototype._updateIcon.call(this);
      },
    });

  function newLayer(cluster) {
    if (!cluster) return L.layerGroup();
    var group = L.markerClusterGroup({
      chunkedLoading: false,
      animate: false, // canvas markers cannot fade; zoom jumps instead
      maxClusterRadius: 40,
      disableClusteringAtZoom: clusterZoomLimit(),
      spiderfyOnMaxZoom: false,
      showCoverageOnHover: false,
      zoomToBoundsOnClick: true,
      removeOutsideVisibleBounds: true,
      iconCreateFunction: clusterIcon,
    });
    if (Cluster) group._markerCluster = Cluster;
    return group;
  }

  // clusterZoomLimit is the zoom from which markers are never clustered:
  // three levels (8×) in from the whole floor, where a room's equipment
  // stands apart.
  function clusterZoomLimit() {
    return Math.min(Math.ceil(fitZoom) + 3, Math.floor(map.getMaxZoom()));
  }

  // wantClusters says whether markers should be clustered now: when many
  // are shown (with some hysteresis), and not zoomed in past the limit,
  // where the cluster group would only add bookkeeping to every update.
  function wantClusters() {
    if (!clusterAllowed) return false;
    if (Math.round(map.getZoom()) >= clusterZoomLimit()) return false;
    return clustering ? shownCount >= CLUSTER_OFF : shownCount > CLUSTER_ON;
  }

  // rebuildMarkerLayer puts every shown marker into a new layer, clustered
  // or not as wantClusters says.
  function rebuildMarkerLayer() {
    var reopen = selected && selected.marker.isTooltipOpen() ? selected : null;
    if (layer) {
      layer.clearLayers(); // also unhooks the cluster group from the markers
      map.removeLayer(layer);
    }
    clustering = wantClusters();
    layer = newLayer(clustering);
    var ms = [];
    entries.forEach(function (e) {
      if (!e.hidden) ms.push(e.marker);
    });
    layer.addTo(map);
    if (clustering) {
      layer.addLayers(ms);
    } else {
      ms.forEach(function (m) {
        layer.addLayer(m);
      });
    }
    if (reopen && reopen.marker._map) reopen.marker.openTooltip();
    stats.clustered = clustering;
    stats.markers = ms.length;
  }

  // removeThenAdd takes markers out of the cluster group, calls between,
  // and puts markers into it. Both of markercluster's batch calls redraw
  // every changed cluster icon on screen; when markers go back in at once,
  // the first redraw is wasted (and was half the cost of a batch), so it is
  // skipped: the flags it would clear stay set for the second.
  // (_refreshClustersIcons is leaflet.markercluster 1.5.3's own method.)
  function removeThenAdd(out, between, into) {
    if (out.length) {
      if (into.length && typeof layer._refreshClustersIcons === 'function') layer._refreshClustersIcons = function () {};
      try {
        layer.removeLayers(out);
      } finally {
        delete layer._refreshClustersIcons; // back to the prototype's
      }
    }
    if (between) between();
    if (into.length) layer.addLayers(into);
  }

  // maybeSwitchLayer changes between clustered and plain when wantClusters
  // changes its mind.
  function maybeSwitchLayer() {
    if (clusterAllowed && wantClusters() !== clustering) rebuildMarkerLayer();
  }
  // After the cluster group's own zoom handlers (zoomToShowLayer waits for
  // them), not during them.
  map.on('zoomend', function () {
    stats.zoom = map.getZoom();
    window.requestAnimationFrame(maybeSwitchLayer);
  });

  // ---- applying positions, once per animation frame ------------------------

  var pending = new Map(); // asset id → newest entry not yet applied
  var pendingGone = new Set(); // asset ids that left the floor
  var pendingSnap = null; // ids in the latest snapshot, until applied
  var frameRequested = false;
  var tableDirty = true; // the table's rows or their order must be rebuilt

  // ?apply=direct applies every message as it arrives (the old way), for
  // cmd/maploadtest's comparison.
  var applyDirect = /[?&]apply=direct\b/.test(window.location.search);

  function schedule() {
    if (applyDirect) {
      flush();
      return;
    }
    if (frameRequested) return;
    frameRequested = true;
    window.requestAnimationFrame(flush);
  }

  function removeEntry(e, batchRemove) {
    if (selected === e) {
      selected = null;
      halo.remove();
    }
    if (!e.hidden) {
      shownCount--;
      if (batchRemove) batchRemove.push(e.marker);
      else layer.removeLayer(e.marker);
    }
    detachRow(e);
    entries.delete(e.id);
    orderCache = null;
    tableDirty = true;
  }

  // flush applies everything received since the last frame.
  function flush() {
    frameRequested = false;
    var t0 = performance.now();
    var now = serverNow();
    var out = []; // markers leaving the layer
    var into = []; // markers (re)entering the layer
    var restyled = [];

    if (pendingSnap) {
      var keep = pendingSnap;
      pendingSnap = null;
      entries.forEach(function (e) {
        if (!keep.has(e.id)) removeEntry(e, out);
      });
    }
    pendingGone.forEach(function (id) {
      var e = entries.get(id);
      if (e) removeEntry(e, out);
    });
    pendingGone.clear();

    // A marker leaving the layer closes its card; reopen it afterwards.
    var openTip = null;
    if (selected && selected.marker.isTooltipOpen()) openTip = selected;

    var relocated = [];
    var n = pending.size;
    pending.forEach(function (p, id) {
      var e = entries.get(id);
      var fresh = !e;
      if (fresh) {
        e = createEntry(id);
        e.hidden = true; // not in the layer yet
      }
      var wasHidden = e.hidden;
      var moved = fresh || e.x !== p[1] || e.y !== p[2];
      e.x = p[1];
      e.y = p[2];
      e.zone = finite(p[3]) ? p[3] : 0;
      e.ts = p[4];
      e.conf = finite(p[5]) ? p[5] : 0;
      var show = matches(e);
      e.hidden = !show;
      if (show !== !wasHidden) shownCount += show ? 1 : -1;
      if (moved) relocated.push(e);
      if (clustering) {
        // A clustered marker moves by leaving and re-entering the group
        // (with its old position, so the group finds it), all in one batch.
        if (!wasHidden && (moved || !show)) out.push(e.marker);
        if (show && (wasHidden || moved)) into.push(e.marker);
      } else {
        if (!wasHidden && !show) out.push(e.marker);
        if (show && wasHidden) into.push(e.marker);
      }
      if (updateStale(e, now) && !moved && show) restyled.push(e.marker);
      if (selected === e) {
        halo.setLatLng(ll(e.x, e.y));
        if (!show) halo.remove();
      }
    });
    pending.clear();

    if (clustering) {
      removeThenAdd(out, function () {
        // Out of the group: set the position without a move event, which
        // the group would answer by moving the marker once more on its own.
        relocated.forEach(function (e) {
          e.marker._latlng = L.latLng(ll(e.x, e.y));
        });
      }, into);
    } else {
      out.forEach(function (m) {
        layer.removeLayer(m);
      });
      relocated.forEach(function (e) {
        e.marker.setLatLng(ll(e.x, e.y)); // canvas: redrawn once per frame
      });
      into.forEach(function (m) {
        layer.addLayer(m);
      });
    }
    if (openTip && openTip === selected && !openTip.hidden && openTip.marker._map && !openTip.marker.isTooltipOpen()) {
      openTip.marker.openTooltip();
    }
    if (clustering && restyled.length) layer.refreshClusters(restyled);
    if (selected && !selected.hidden && selected.marker.isTooltipOpen()) {
      fillTooltip(selected, now);
      selected.marker.getTooltip().update();
    }
    maybeSwitchLayer();
    updateCount();
    stats.markers = shownCount;
    if (n || out.length) {
      stats.batches++;
      stats.applied += n;
      stats.batchMs.push(performance.now() - t0);
      if (stats.batchMs.length > BATCH_LOG) stats.batchMs.splice(0, stats.batchMs.length - BATCH_LOG);
    }
  }

  function updateCount() {
    var n = entries.size;
    countEl.textContent = String(n);
    emptyEl.hidden = n > 0;
  }

  // ---- the table: one page, in name order, refreshed at most each second --

  var pageSize = data.pageSize > 0 ? data.pageSize : 200;
  var page = data.page > 0 ? data.page : 1;
  var shownRows = []; // entries whose rows are on the page, in order
  var orderCache = null; // every entry in name order

  function byName(a, b) {
    if (a.key < b.key) return -1;
    if (a.key > b.key) return 1;
    return a.id - b.id;
  }

  function ordered() {
    if (!orderCache) {
      orderCache = Array.from(entries.values());
      orderCache.sort(byName);
    }
    return orderCache;
  }

  function listed() {
    var all = ordered();
    return filterText ? all.filter(matches) : all;
  }

  function pageURL(n) {
    return window.location.pathname + (n > 1 ? '?page=' + n : '');
  }

  function renderPager(total, first, last, pages) {
    if (!pagerEl) return;
    pagerEl.textContent = '';
    pagerEl.hidden = pages <= 1 && !filterText;
    var status = total === 0 ? 'No equipment matches' : 'Rows ' + first + '–' + last + ' of ' + total;
    var s = pagerEl.appendChild(textEl('span', 'pager-status', status));
    s.id = 'asset-pager-status';
    if (page > 1) {
      var prev = pagerEl.appendChild(textEl('a', 'pager-prev', 'Previous'));
      prev.rel = 'prev';
      prev.href = pageURL(page - 1);
      prev.dataset.page = String(page - 1);
    }
    pagerEl.appendChild(textEl('span', 'pager-page', 'Page ' + page + ' of ' + pages));
    if (page < pages) {
      var next = pagerEl.appendChild(textEl('a', 'pager-next', 'Next'));
      next.rel = 'next';
      next.href = pageURL(page + 1);
      next.dataset.page = String(page + 1);
    }
  }

  // renderTable shows the current page of the (filtered) table.
  function renderTable() {
    var t0 = performance.now();
    tableDirty = false;
    var now = serverNow();
    var list = listed();
    var pages = Math.max(1, Math.ceil(list.length / pageSize));
    page = Math.min(Math.max(1, page), pages);
    var lo = (page - 1) * pageSize;
    var slice = list.slice(lo, lo + pageSize);
    var want = new Set(slice);
    shownRows.forEach(function (e) {
      if (!want.has(e)) detachRow(e);
    });
    var prev = null;
    slice.forEach(function (e) {
      if (!e.row) attachRow(e, buildRow(e));
      fillRow(e, now);
      var at = prev ? prev.nextSibling : tbody.firstChild;
      if (at !== e.row) tbody.insertBefore(e.row, at);
      prev = e.row;
    });
    // Anything after the page's rows is not ours (or no longer shown).
    while (prev ? prev.nextSibling : tbody.firstChild) {
      (prev ? prev.nextSibling : tbody.firstChild).remove();
    }
    shownRows = slice;
    renderPager(list.length, slice.length ? lo + 1 : 0, lo + slice.length, pages);
    updateCount();
    stats.tableRenders++;
    stats.tableMs += performance.now() - t0;
  }

  // tick refreshes ages, staleness and the table's page once a second.
  function tick() {
    var now = serverNow();
    var restyled = [];
    entries.forEach(function (e) {
      if (updateStale(e, now) && !e.hidden) restyled.push(e.marker);
    });
    if (clustering && restyled.length) layer.refreshClusters(restyled);
    if (tableDirty) {
      renderTable();
    } else {
      var t0 = performance.now();
      shownRows.forEach(function (e) {
        fillRow(e, now);
      });
      stats.tableMs += performance.now() - t0;
    }
    if (selected && !selected.hidden && selected.marker.isTooltipOpen()) fillTooltip(selected, now);
  }

  function goToPage(n) {
    page = n;
    renderTable();
    if (window.history && window.history.replaceState) window.history.replaceState(null, '', pageURL(page));
  }

  if (pagerEl) {
    pagerEl.addEventListener('click', function (ev) {
      var a = ev.target.closest('a[data-page]');
      if (!a) return;
      ev.preventDefault();
      var cls = a.className;
      goToPage(Number(a.dataset.page));
      var again = pagerEl.querySelector('a.' + cls.split(' ')[0]) || pagerEl.querySelector('a[data-page]');
      if (again) again.focus();
    });
  }

  // showRow puts e's row on the table's page, changing page if needed.
  function showRow(e) {
    if (e.hidden) return;
    if (tableDirty || !e.row) {
      var i = listed().indexOf(e);
      if (i < 0) return;
      var want = Math.floor(i / pageSize) + 1;
      if (want !== page || tableDirty || !e.row) goToPage(want);
    }
    if (e.row) e.row.scrollIntoView({ block: 'nearest' });
  }

  // ---- selection ---------------------------------------------------------

  function openCard(e) {
    if (!e.marker._map) return;
    halo.setLatLng(e.marker.getLatLng()).addTo(map);
    halo.bringToFront();
    e.marker.bringToFront();
    e.marker.openTooltip();
  }

  function select(e, pan) {
    var prev = selected;
    selected = e;
    if (prev && prev !== e) {
      if (prev.row) fillRow(prev, serverNow());
      prev.marker.setStyle(markerStyle(prev));
      prev.marker.closeTooltip();
    }
    e.marker.setStyle(markerStyle(e)); // CircleMarker.setStyle applies the radius too
    halo.remove();
    if (pan) {
      if (clustering && layer.hasLayer(e.marker)) {
        // Zoom until the marker is out of its cluster, then show its card.
        layer.zoomToShowLayer(e.marker, function () {
          openCard(e);
        });
      } else {
        map.panTo(e.marker.getLatLng());
        openCard(e);
      }
    } else {
      showRow(e);
      openCard(e);
    }
    if (e.row) fillRow(e, serverNow());
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

  function applyFilter() {
    var out = [];
    var into = [];
    entries.forEach(function (e) {
      var show = matches(e);
      if (show === !e.hidden) return;
      e.hidden = !show;
      shownCount += show ? 1 : -1;
      (show ? into : out).push(e.marker);
      if (!show && selected === e) halo.remove();
    });
    if (clustering) {
      removeThenAdd(out, null, into);
    } else {
      out.forEach(function (m) {
        layer.removeLayer(m);
      });
      into.forEach(function (m) {
        layer.addLayer(m);
      });
    }
    maybeSwitchLayer();
    page = 1;
    renderTable();
  }

  if (filterEl) {
    var filterFrame = false;
    filterEl.addEventListener('input', function () {
      if (filterFrame) return;
      filterFrame = true;
      window.requestAnimationFrame(function () {
        filterFrame = false;
        filterText = filterEl.value.trim().toLowerCase();
        applyFilter();
      });
    });
  }

  // ---- initial state from the page's data --------------------------------

  (function () {
    var now = serverNow();
    var rows = new Map();
    Array.prototype.forEach.call(tbody.querySelectorAll('tr[data-asset-id]'), function (tr) {
      rows.set(Number(tr.dataset.assetId), tr);
    });
    (Array.isArray(data.positions) ? data.positions : []).forEach(function (p) {
      if (!valid(p) || entries.has(p[0])) return;
      var e = createEntry(p[0]);
      e.x = p[1];
      e.y = p[2];
      e.zone = finite(p[3]) ? p[3] : 0;
      e.ts = p[4];
      e.conf = finite(p[5]) ? p[5] : 0;
      e.marker.setLatLng(ll(e.x, e.y)); // in no layer yet
      updateStale(e, now);
      var tr = rows.get(e.id);
      if (tr) attachRow(e, tr);
    });
    // Rows the server rendered keep their elements; renderTable orders them.
    entries.forEach(function (e) {
      if (e.row) shownRows.push(e);
    });
    shownCount = entries.size;
    rebuildMarkerLayer();
    renderTable();
  })();

  // ---- live updates ------------------------------------------------------

  function handle(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (finite(msg.now)) clockOffset = msg.now - Date.now();
    var list = Array.isArray(msg.a) ? msg.a : [];
    var i, p;
    switch (msg.t) {
      case 'snap':
        pending.clear();
        pendingGone.clear();
        pendingSnap = new Set();
        for (i = 0; i < list.length; i++) {
          p = list[i];
          if (!valid(p)) continue;
          pendingSnap.add(p[0]);
          pending.set(p[0], p);
        }
        break;
      case 'pos':
        for (i = 0; i < list.length; i++) {
          p = list[i];
          if (!valid(p)) continue;
          pending.set(p[0], p);
          pendingGone.delete(p[0]);
          if (pendingSnap) pendingSnap.add(p[0]);
        }
        break;
      case 'gone':
        for (i = 0; i < list.length; i++) {
          if (!finite(list[i])) continue;
          pending.delete(list[i]);
          pendingGone.add(list[i]);
          if (pendingSnap) pendingSnap.delete(list[i]);
        }
        break;
      default:
        return;
    }
    schedule();
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
      var t0 = performance.now();
      var msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (err) {
        return;
      }
      stats.messages++;
      stats.parseMs += performance.now() - t0;
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

  // Ages move on even when nothing arrives; the table follows once a second.
  window.setInterval(tick, 1000);

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
