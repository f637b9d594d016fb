// WardWatch floor editor: the plan in Leaflet (CRS.Simple, floor metres;
// lat = −y, lng = x) with Leaflet-Geoman for drawing and editing zones,
// draggable gateways, and a two-click measure tool for the plan's scale.
// Every action fills the page's ordinary forms, which do the saving: the
// page works without this script too.
(function () {
  'use strict';
  var dataEl = document.getElementById('editor-data');
  var mapEl = document.getElementById('editor-map');
  if (!dataEl || !mapEl || typeof L === 'undefined') {
    return;
  }
  var data = JSON.parse(dataEl.textContent);
  var W = data.floor.width > 0 ? data.floor.width : 1;
  var H = data.floor.height > 0 ? data.floor.height : 1;
  var hint = document.getElementById('tool-hint');

  function ll(x, y) {
    return [-y, x];
  }
  function xy(latlng) {
    return { x: round(latlng.lng), y: round(-latlng.lat) };
  }
  function round(v) {
    return Math.round(v * 100) / 100;
  }
  function setValue(id, v) {
    var el = document.getElementById(id);
    if (el) {
      el.value = v;
      el.dispatchEvent(new Event('change'));
    }
  }
  function say(text) {
    if (hint) {
      hint.textContent = text;
    }
  }

  var width = mapEl.clientWidth || 600;
  mapEl.style.height = Math.round(Math.min(Math.max(320, window.innerHeight - 260), Math.max(260, (width - 24) * (H / W) + 24))) + 'px';
  var bounds = L.latLngBounds([[-H, 0], [0, W]]);
  var map = L.map(mapEl, { crs: L.CRS.Simple, attributionControl: false, minZoom: -8, maxZoom: 12, zoomSnap: 0.25 });
  if (data.hasPlan) {
    L.imageOverlay(data.planUrl, bounds, { alt: 'Floor plan of ' + data.floor.name }).addTo(map);
  }
  L.rectangle(bounds, { color: '#64748b', weight: 1, fill: false, interactive: false, pmIgnore: true }).addTo(map);
  map.fitBounds(bounds, { padding: [12, 12], animate: false });
  // For scripted use (the browser tests): floor metres → page pixels.
  mapEl.floorToPage = function (x, y) {
    var p = map.latLngToContainerPoint(ll(x, y));
    var r = mapEl.getBoundingClientRect();
    return [r.left + p.x, r.top + p.y];
  };

  function polygonOf(layer) {
    var rings = layer.getLatLngs();
    var ring = Array.isArray(rings[0]) ? rings[0] : rings;
    return JSON.stringify(ring.map(function (p) {
      var c = xy(p);
      return [c.x, c.y];
    }));
  }

  // Existing zones: editable; an edit fills that zone's form.
  data.zones.forEach(function (z) {
    if (!z.polygon || z.polygon.length < 3) {
      return;
    }
    var poly = L.polygon(z.polygon.map(function (p) {
      return ll(p.x !== undefined ? p.x : p.X, p.y !== undefined ? p.y : p.Y);
    }), { color: '#1d4ed8', weight: 2, fillOpacity: 0.08 }).addTo(map);
    poly.bindTooltip(z.careUnit ? z.name + ' · ' + z.careUnit : z.name, { permanent: true, direction: 'center', className: 'zone-label' });
    poly.on('pm:edit', function () {
      setValue('zone-polygon-' + z.id, polygonOf(poly));
      var form = document.getElementById('zone-form-' + z.id);
      if (form) {
        form.classList.add('changed');
      }
      say('Zone ' + z.name + ' changed: press its Save button below.');
    });
  });

  // Existing gateways: drag to move; the drop fills that gateway's form.
  data.gateways.forEach(function (g) {
    var m = L.marker(ll(g.x, g.y), { draggable: true, title: g.name || g.key, pmIgnore: true }).addTo(map);
    m.bindTooltip(g.name || g.key);
    m.on('dragend', function () {
      var c = xy(m.getLatLng());
      setValue('gw-x-' + g.id, c.x);
      setValue('gw-y-' + g.id, c.y);
      var form = document.getElementById('gw-form-' + g.id);
      if (form) {
        form.classList.add('changed');
      }
      say('Gateway ' + (g.name || g.key) + ' moved: press its Move button below.');
    });
  });

  if (map.pm) {
    map.pm.setGlobalOptions({ snappable: true, allowSelfIntersection: false });
    map.pm.addControls({
      position: 'topleft', drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawCircle: false,
      drawText: false, cutPolygon: false, rotateMode: false, dragMode: false, removalMode: false,
    });
    map.on('pm:create', function (e) {
      if (e.shape !== 'Polygon' && e.shape !== 'Rectangle') {
        return;
      }
      setValue('new-zone-polygon', polygonOf(e.layer));
      var name = document.getElementById('new-zone-name');
      if (name) {
        name.focus();
      }
      say('Zone drawn: name it and press “Save drawn zone”.');
    });
  }

  // Tools that take clicks on the map.
  var mode = null;
  var measured = [];
  var measureLine = null;
  var newGateway = null;
  function use(m, text) {
    mode = m;
    measured = [];
    mapEl.classList.toggle('picking', m !== null);
    say(text);
  }
  document.getElementById('tool-zone').addEventListener('click', function () {
    use(null, 'Click the corners of the zone; click the first corner again to finish.');
    if (map.pm) {
      map.pm.enableDraw('Polygon');
    }
  });
  document.getElementById('tool-gateway').addEventListener('click', function () {
    use('gateway', 'Click where the gateway hangs.');
  });
  document.getElementById('tool-measure').addEventListener('click', function () {
    use('measure', 'Click one end of a wall of known length.');
  });
  map.on('click', function (e) {
    var c = xy(e.latlng);
    if (mode === 'gateway') {
      setValue('x', c.x);
      setValue('y', c.y);
      if (newGateway) {
        map.removeLayer(newGateway);
      }
      newGateway = L.circleMarker(e.latlng, { radius: 7, color: '#b45309' }).addTo(map);
      use(null, 'Gateway placed at ' + c.x + ', ' + c.y + ' m: fill in its key and press “Add gateway”.');
      var key = document.getElementById('key');
      if (key) {
        key.focus();
      }
    } else if (mode === 'measure') {
      measured.push(c);
      if (measured.length === 1) {
        say('Now click the other end.');
        return;
      }
      setValue('x1', measured[0].x);
      setValue('y1', measured[0].y);
      setValue('x2', measured[1].x);
      setValue('y2', measured[1].y);
      if (measureLine) {
        map.removeLayer(measureLine);
      }
      measureLine = L.polyline([ll(measured[0].x, measured[0].y), ll(measured[1].x, measured[1].y)], { color: '#b45309', dashArray: '6 4' }).addTo(map);
      use(null, 'Measured. Type the real length and press “Set scale”.');
      var d = document.getElementById('distance');
      if (d) {
        d.focus();
      }
    }
  });
})();
