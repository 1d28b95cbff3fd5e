// The map of /reunions: the meetings of the list (data-points), at their commune, with Leaflet
// and Leaflet.markercluster served by the gateway (the members map's assets; no CDN).
// A file, not an inline script (the CSP). Titles are set as text, never as HTML.
(function () {
  "use strict";
  var element = document.getElementById("meetings-map");
  if (!element || typeof L === "undefined") { return; }
  var map = L.map(element, { scrollWheelZoom: false }).setView([46.6, 2.4], 6);
  if (element.dataset.tiles) {
    L.tileLayer(element.dataset.tiles, { maxZoom: 14, attribution: element.dataset.credit || "" }).addTo(map);
  }
  var markers = L.markerClusterGroup({ maxClusterRadius: 40 });
  map.addLayer(markers);
  var bounds = [];
  JSON.parse(element.dataset.points || "[]").forEach(function (point) {
    var link = document.createElement("a");
    link.href = "/reunions/" + encodeURIComponent(point.id);
    link.textContent = point.title + " (" + point.city + ")";
    markers.addLayer(L.marker([point.lat, point.lon]).bindPopup(link));
    bounds.push([point.lat, point.lon]);
  });
  if (bounds.length) { map.fitBounds(bounds, { maxZoom: 12, padding: [20, 20] }); }
})();
