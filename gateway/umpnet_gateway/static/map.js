// The map of /carte: Leaflet and Leaflet.markercluster, served by the gateway (no CDN).
// A file, not an inline script: the page's CSP allows scripts from the site only.
// What it draws is the map element's data-first-page (the page's own search), then
// the next pages from its data-source (/carte/membres, the same answer as
// GET /api/map/members): members of crowded cells as clustered markers,
// the small cells as counts only. Names are set as text, never as HTML.
(function () {
  "use strict";
  var element = document.getElementById("map");
  if (!element || typeof L === "undefined") { return; }
  var MAX_PAGES = 10;

  var map = L.map(element, { scrollWheelZoom: false }).setView([46.6, 2.4], 6);
  if (element.dataset.tiles) {
    L.tileLayer(element.dataset.tiles, { maxZoom: 14, attribution: element.dataset.credit || "" }).addTo(map);
  }
  var members = L.markerClusterGroup({ maxClusterRadius: 50, spiderfyOnMaxZoom: true });
  var counts = L.layerGroup();
  map.addLayer(members);
  map.addLayer(counts);
  var bounds = [];

  function popup(item) {
    var link = document.createElement("a");
    link.href = "/membres/" + encodeURIComponent(item.member_id);
    link.textContent = item.display_name;
    return link;
  }

  function countLabel(n) {
    return n + (n > 1 ? " adhérents" : " adhérent") + " (zone trop peu peuplée pour les montrer)";
  }

  function draw(page) {
    page.items.forEach(function (item) {
      members.addLayer(L.marker([item.lat, item.lon]).bindPopup(popup(item)));
      bounds.push([item.lat, item.lon]);
    });
    (page.cells || []).forEach(function (cell) {
      var circle = L.circleMarker([cell.lat, cell.lon], { radius: 6 + Math.min(cell.count, 4) * 2, weight: 1 });
      circle.bindTooltip(document.createTextNode(countLabel(cell.count)));
      counts.addLayer(circle);
      bounds.push([cell.lat, cell.lon]);
    });
  }

  // The page drawn, then the next ones from the data source, at most MAX_PAGES in all.
  function show(page, pages) {
    draw(page);
    if (page.next_cursor && pages < MAX_PAGES) {
      var next = new URL(element.dataset.source, window.location.href);
      next.searchParams.set("cursor", page.next_cursor);
      load(next.toString(), pages + 1);
    } else if (bounds.length) {
      map.fitBounds(bounds, { maxZoom: 12, padding: [20, 20] });
    }
  }

  function load(url, pages) {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (page) { if (page) { show(page, pages); } });
  }

  // The first page came with the HTML (data-first-page): it is not asked for again.
  if (element.dataset.firstPage) {
    show(JSON.parse(element.dataset.firstPage), 1);
  } else {
    load(element.dataset.source, 1);
  }
})();
