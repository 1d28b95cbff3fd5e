// A petition's signatures by département on a map (Leaflet, served by the gateway: no CDN).
// A file, not an inline script (the CSP). The points are the page's own breakdown table,
// in the map element's data-points: one circle per département, its size by its count.
(function () {
  "use strict";
  var element = document.getElementById("petition-map");
  if (!element || typeof L === "undefined") { return; }
  var points = JSON.parse(element.getAttribute("data-points") || "[]");
  var map = L.map(element, { scrollWheelZoom: false }).setView([46.6, 2.4], 5);
  if (element.dataset.tiles) {
    L.tileLayer(element.dataset.tiles, { maxZoom: 10, attribution: element.dataset.credit || "" }).addTo(map);
  }
  var biggest = points.reduce(function (max, p) { return Math.max(max, p.count); }, 1);
  var format = new Intl.NumberFormat("fr-FR");
  points.forEach(function (p) {
    var label = document.createElement("span");
    label.textContent = p.code + " – " + p.name + " : " + format.format(p.count) +
      (p.count > 1 ? " signatures" : " signature");
    L.circleMarker([p.lat, p.lon], { radius: 5 + 20 * Math.sqrt(p.count / biggest), color: "#1d4ed8",
                                     fillOpacity: 0.5, weight: 1 }).bindPopup(label).addTo(map);
  });
})();
