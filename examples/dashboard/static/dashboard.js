// The dashboard's live part: readings and the relay state pushed over a WebSocket (/ws), or
// over server-sent events (/events) when no WebSocket opens; the history chart drawn as SVG.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var points = [];
  var socket = null;
  var token = document.querySelector('meta[name="csrf-token"]').content;

  function draw() {
    var n = points.length;
    if (!n) return;
    function line(key, lo, hi) {
      var span = hi - lo || 1;
      var drawn = n > 1 ? points : [points[0], points[0]];  // one reading: a flat line
      return drawn.map(function (p, i) {
        var x = i * 300 / (drawn.length - 1);
        var y = 115 - (p[key] - lo) * 110 / span;
        return x.toFixed(1) + "," + y.toFixed(1);
      }).join(" ");
    }
    var temps = points.map(function (p) { return p.temperature; });
    var lo = Math.min.apply(null, temps), hi = Math.max.apply(null, temps);
    $("line-temperature").setAttribute("points", line("temperature", lo - 1, hi + 1));
    $("line-humidity").setAttribute("points", line("humidity", 0, 100));
    $("range").textContent = lo.toFixed(1) + "–" + hi.toFixed(1) + "°, " + n + (n > 1 ? " readings" : " reading");
  }

  function reading(m) {
    $("temperature").textContent = m.temperature.toFixed(1);
    $("humidity").textContent = m.humidity.toFixed(1);
    $("updated").textContent = m.at;
    $("temperature-card").classList.toggle("alarm", m.alarm);
    $("alarm-note").textContent = m.alarm ? "Alarm: above the threshold" : "";
    var last = points[points.length - 1];
    if (!last || last.time !== m.time) {
      points.push(m);
      if (points.length > 60) points.shift();
      draw();
    }
  }

  function relay(on) {
    $("relay").checked = on;
    $("relay-label").textContent = on ? "On" : "Off";
    $("relay-note").textContent = "";
  }

  function handle(m) {
    if (m.kind === "reading") reading(m);
    else if (m.kind === "relay") relay(m.on);
    else if (m.kind === "error") $("updated").textContent = m.message;
  }

  function useEvents() {
    var source = new EventSource("/events");
    source.addEventListener("reading", function (e) { handle(JSON.parse(e.data)); });
    source.addEventListener("relay", function (e) { handle(JSON.parse(e.data)); });
    source.onopen = function () { $("transport").textContent = "live (server-sent events)"; };
    source.onerror = function () { $("transport").textContent = "reconnecting…"; };
  }

  function connect() {
    if (!window.WebSocket) return useEvents();
    var opened = false;
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    ws.onopen = function () { opened = true; socket = ws; $("transport").textContent = "live (WebSocket)"; };
    ws.onmessage = function (e) { handle(JSON.parse(e.data)); };
    ws.onclose = function () {
      socket = null;
      if (!opened) return useEvents();
      $("transport").textContent = "reconnecting…";
      setTimeout(connect, 2000);
    };
  }

  $("relay").addEventListener("change", function () {
    var on = this.checked;
    $("relay-note").textContent = "switching…";
    if (socket) return socket.send(JSON.stringify({ relay: on }));
    fetch("/api/relay", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify({ relay: on })
    }).then(function (r) { return r.json(); }).then(function (m) { if (m.kind) relay(m.on); })
      .catch(function () { $("relay-note").textContent = "not switched"; });
  });

  fetch("/api/readings").then(function (r) { return r.json(); }).then(function (data) {
    points = data.readings.concat(points.filter(function (p) {
      return !data.readings.length || p.time > data.readings[data.readings.length - 1].time;
    })).slice(-60);
    draw();
  });
  connect();
})();
