// flashdrop ops page: live stats, pause and resume, new drops and series,
// all through the admin API with the token typed into the page.
'use strict';

(function () {
  var $ = function (id) { return document.getElementById(id); };
  var token = sessionStorage.getItem('flashdrop.admin') || '';
  var timer = null;

  var sentences = {
    unauthorized: 'That token was not accepted.',
    forbidden: 'That token may not do this.',
    not_found: 'Not found on this server.',
    drop_exists: 'A drop with this id already exists with other settings.',
    series_exists: 'A series with this id already exists with other settings.',
    invalid: 'Check the marked field.',
    unavailable: 'The server is busy or a backing service is down; try again.',
    rate_limited: 'Too many requests; wait a second.',
    internal: 'The server failed; the error was logged.',
    network: 'No connection to the server.'
  };
  function sentence(p) { return sentences[p.code] || p.title || sentences.internal; }

  function api(method, path, body) {
    var h = { 'Accept': 'application/json', 'Authorization': 'Bearer ' + token };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    return fetch(path, { method: method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
      .then(function (resp) {
        return resp.text().then(function (t) {
          var data = {};
          try { data = JSON.parse(t); } catch (e) { data = { text: t }; }
          return { ok: resp.ok, status: resp.status, data: data };
        });
      }, function () { return { ok: false, status: 0, data: { code: 'network' } }; });
  }

  function signedIn(on) {
    $('signin').hidden = on;
    $('console').hidden = !on;
    if (on) { poll(); if (!timer) timer = setInterval(poll, 1000); }
    else if (timer) { clearInterval(timer); timer = null; }
  }

  $('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    token = $('admin-token').value.trim();
    api('GET', '/v1/admin/drops').then(function (r) {
      if (!r.ok) { alertMsg(sentence(r.data)); token = ''; return; }
      sessionStorage.setItem('flashdrop.admin', token);
      $('admin-token').value = '';
      signedIn(true);
    });
  });
  $('forget').addEventListener('click', function () {
    sessionStorage.removeItem('flashdrop.admin');
    token = '';
    signedIn(false);
    $('admin-token').focus();
  });
  function alertMsg(t) {
    $('ops-message').textContent = t;
    $('signin-message').textContent = t;
  }

  // --- drops and their counters -------------------------------------
  var pending = {}; // drop id -> 'pause' | 'resume' awaiting confirmation
  var rows = {};

  function cell(tr, text, num) {
    var td = document.createElement('td');
    td.textContent = text;
    if (num) td.className = 'num';
    tr.appendChild(td);
    return td;
  }

  function drawRow(d, st) {
    var tr = rows[d.id];
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.drop = d.id;
      rows[d.id] = tr;
      $('drops').tBodies[0].appendChild(tr);
    }
    // Rebuild a row only when something in it changed, so a button is
    // never replaced under a click or a keyboard focus.
    var sig = JSON.stringify([d.state, d.paused, st, pending[d.id] || '']);
    if (tr.dataset.sig === sig) return;
    tr.dataset.sig = sig;
    var focused = document.activeElement && tr.contains(document.activeElement) ? document.activeElement.dataset.role : '';
    tr.textContent = '';
    var th = document.createElement('th');
    th.scope = 'row';
    var a = document.createElement('a');
    a.href = '/d/' + encodeURIComponent(d.id);
    a.textContent = d.id;
    th.appendChild(a);
    tr.appendChild(th);
    cell(tr, d.paused ? 'paused' : d.state.replace(/_/g, ' '));
    ['registered', 'available', 'held', 'confirmed', 'released', 'referrals'].forEach(function (k) { cell(tr, st ? st[k] : '…', true); });
    var td = cell(tr, '');
    var action = d.paused ? 'resume' : 'pause';
    if (pending[d.id]) {
      var q = document.createElement('span');
      q.textContent = (pending[d.id] === 'pause' ? 'Pause ' : 'Resume ') + d.id + '? ';
      td.appendChild(q);
      td.appendChild(button('Yes, ' + pending[d.id], 'yes', function () { setPaused(d.id, pending[d.id]); }));
      td.appendChild(document.createTextNode(' '));
      td.appendChild(button('No', 'no', function () { delete pending[d.id]; poll(); }, true));
    } else {
      td.appendChild(button(action === 'pause' ? 'Pause' : 'Resume', action, function () { pending[d.id] = action; poll(); }, action === 'resume'));
    }
    if (focused) {
      var again = tr.querySelector('[data-role="' + focused + '"]') || tr.querySelector('button');
      if (again) again.focus();
    }
  }

  function button(text, role, fn, secondary) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.dataset.role = role;
    if (secondary) b.className = 'secondary';
    b.addEventListener('click', fn);
    return b;
  }

  function setPaused(id, action) {
    api('POST', '/v1/admin/drops/' + encodeURIComponent(id) + '/' + action).then(function (r) {
      delete pending[id];
      $('ops-message').textContent = r.ok ? (action === 'pause' ? 'Paused ' : 'Resumed ') + id + '.' : sentence(r.data);
      poll();
      var b = rows[id] && rows[id].querySelector('button');
      if (b) b.focus();
    });
  }

  function pollDrops() {
    return api('GET', '/v1/admin/drops').then(function (r) {
      if (!r.ok) { if (r.status === 401) $('forget').click(); return; }
      var seen = {};
      return Promise.all(r.data.drops.map(function (d) {
        seen[d.id] = true;
        return api('GET', '/v1/admin/drops/' + encodeURIComponent(d.id) + '/stats').then(function (s) { drawRow(d, s.ok ? s.data : null); });
      })).then(function () {
        Object.keys(rows).forEach(function (id) { if (!seen[id]) { rows[id].remove(); delete rows[id]; } });
      });
    });
  }

  // --- reserve outcomes per second, from this node's /metrics ---------
  var history = []; // {t, counts}
  var series = {}; // outcome -> [per-second values]
  var colors = { won: '#1d7a46', sold_out: '#b3261e', other: '#8a5a00' };

  function pollMetrics() {
    return fetch('/metrics', { cache: 'no-store' }).then(function (r) { return r.text(); }).then(function (text) {
      var counts = { won: 0, sold_out: 0, other: 0 };
      var lag = null;
      text.split('\n').forEach(function (line) {
        var m = /^flashdrop_reserve_outcomes_total\{outcome="([^"]+)"\} ([0-9.e+]+)$/.exec(line);
        if (m) {
          var k = (m[1] === 'won' || m[1] === 'sold_out') ? m[1] : 'other';
          counts[k] += parseFloat(m[2]);
        }
        var l = /^flashdrop_outbox_lag ([0-9.e+]+)$/.exec(line);
        if (l) lag = parseFloat(l[1]);
      });
      $('lag').textContent = lag === null ? 'unknown' : String(lag);
      var t = Date.now();
      var prev = history[history.length - 1];
      history.push({ t: t, counts: counts });
      if (history.length > 121) history.shift();
      if (prev) {
        var dt = Math.max((t - prev.t) / 1000, 0.001);
        Object.keys(counts).forEach(function (k) {
          (series[k] = series[k] || []).push(Math.max(0, (counts[k] - prev.counts[k]) / dt));
          if (series[k].length > 120) series[k].shift();
        });
      }
      chart();
    }, function () {});
  }

  function chart() {
    var c = $('chart');
    var g = c.getContext('2d');
    var w = c.width, h = c.height, pad = 30;
    g.clearRect(0, 0, w, h);
    var max = 1;
    Object.keys(series).forEach(function (k) { series[k].forEach(function (v) { if (v > max) max = v; }); });
    g.strokeStyle = '#dfe1ea';
    g.fillStyle = '#5b607a';
    g.font = '12px sans-serif';
    g.beginPath();
    g.moveTo(pad, h - pad); g.lineTo(w - 5, h - pad);
    g.moveTo(pad, 5); g.lineTo(pad, h - pad);
    g.stroke();
    g.fillText(max.toFixed(max < 10 ? 1 : 0) + '/s', 2, 14);
    g.fillText('0', 12, h - pad);
    g.fillText('last 2 minutes', w - 100, h - 8);
    var legend = $('legend');
    legend.textContent = '';
    Object.keys(colors).forEach(function (k) {
      var s = series[k] || [];
      g.strokeStyle = colors[k];
      g.lineWidth = 2;
      g.beginPath();
      s.forEach(function (v, i) {
        var x = pad + (w - pad - 5) * (i + 120 - s.length) / 119;
        var y = h - pad - (h - pad - 10) * v / max;
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
      var span = document.createElement('span');
      span.className = 'c-' + k;
      span.textContent = k.replace('_', ' ') + ': ' + (s.length ? s[s.length - 1].toFixed(1) : '0') + '/s';
      legend.appendChild(span);
    });
  }

  // --- webhooks ------------------------------------------------------
  function pollWebhooks() {
    return api('GET', '/v1/admin/webhooks').then(function (r) {
      var body = $('webhooks').tBodies[0];
      body.textContent = '';
      var list = r.ok ? (r.data.webhooks || []) : [];
      if (!list.length) {
        var tr = document.createElement('tr');
        var td = cell(tr, r.ok ? 'No webhooks.' : 'Webhooks are not available on this server.');
        td.colSpan = 5;
        body.appendChild(tr);
        return;
      }
      list.forEach(function (w) {
        var tr = document.createElement('tr');
        var st = w.status || w;
        cell(tr, w.url);
        cell(tr, st.delivered || 0, true);
        cell(tr, st.failed_attempts || 0, true);
        cell(tr, st.dead_lettered || 0, true);
        cell(tr, (w.disabled ? 'disabled: ' + (w.disabled_reason || '') + ' — ' : '') + (st.last_status || st.last_error || '—'));
        body.appendChild(tr);
      });
      return pollDeliveries(list);
    });
  }

  // Each webhook's newest attempts, merged newest first.
  function pollDeliveries(list) {
    return Promise.all(list.map(function (w) {
      return api('GET', '/v1/admin/webhooks/' + encodeURIComponent(w.id) + '/deliveries').then(function (r) {
        return (r.ok ? (r.data.deliveries || []) : []).slice(0, 10).map(function (d) { d.webhook = w.id; return d; });
      });
    })).then(function (lists) {
      var all = [].concat.apply([], lists).sort(function (a, b) { return a.at < b.at ? 1 : a.at > b.at ? -1 : 0; });
      var body = $('deliveries').tBodies[0];
      body.textContent = '';
      if (!all.length) {
        var tr = document.createElement('tr');
        cell(tr, 'No delivery attempts yet.').colSpan = 7;
        body.appendChild(tr);
        return;
      }
      all.forEach(function (d) {
        var tr = document.createElement('tr');
        tr.setAttribute('data-event', d.event_id);
        cell(tr, d.at.replace('T', ' ').replace(/\.\d+Z$|Z$/, ''));
        cell(tr, d.webhook);
        cell(tr, d.kind);
        cell(tr, d.event_id);
        cell(tr, d.status || '—', true);
        cell(tr, d.latency_ms + ' ms', true);
        cell(tr, d.error || '');
        body.appendChild(tr);
      });
    });
  }

  var polling = false;
  function poll() {
    if (polling || !token) return;
    polling = true;
    var slow = (poll.n = (poll.n || 0) + 1) % 5 === 1; // webhooks every 5 s
    Promise.all([pollDrops(), pollMetrics(), slow ? pollWebhooks() : null]).then(function () { polling = false; }, function () { polling = false; });
  }

  // --- forms: the API's validation errors next to the fields ----------
  function utc(v) { return v ? new Date(v + (v.length === 16 ? ':00' : '') + 'Z').toISOString() : undefined; }

  function form(id, path, build, done) {
    var f = $(id);
    f.addEventListener('submit', function (e) {
      e.preventDefault();
      Array.prototype.forEach.call(f.querySelectorAll('.error'), function (el) { el.textContent = ''; });
      Array.prototype.forEach.call(f.elements, function (el) { if (el.removeAttribute) el.removeAttribute('aria-invalid'); });
      var msg = f.querySelector('.form-message');
      msg.textContent = '';
      var body = build(f.elements);
      Object.keys(body).forEach(function (k) { if (body[k] === undefined || body[k] === '') delete body[k]; });
      api('POST', path, body).then(function (r) {
        if (r.ok) { msg.textContent = done(r.data); f.reset(); poll(); return; }
        if (r.status === 404 && r.data.code === 'not_found') { msg.textContent = 'This server has no such API yet.'; return; }
        var fields = r.data.fields || (r.data.field ? [r.data.field] : []);
        fields.forEach(function (name) {
          var el = f.querySelector('.error[data-for="' + name + '"]');
          var input = f.elements[name];
          if (el) el.textContent = r.data.field === name && r.data.detail ? r.data.detail : 'differs from the stored one';
          if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
        });
        msg.textContent = sentence(r.data) + (fields.length ? '' : (r.data.detail ? ' ' + r.data.detail : ''));
      });
    });
  }
  function num(v) { return v === '' ? undefined : Number(v); }

  form('drop-form', '/v1/admin/drops', function (e) {
    return {
      id: e.id.value, name: e.name.value, product: e.product.value, stock: num(e.stock.value),
      per_user_limit: num(e.per_user_limit.value), hold_seconds: num(e.hold_seconds.value),
      registration_opens_at: utc(e.registration_opens_at.value), registration_closes_at: utc(e.registration_closes_at.value),
      sale_starts_at: utc(e.sale_starts_at.value), sale_ends_at: utc(e.sale_ends_at.value),
      mode: e.mode.value, confirm_by: e.confirm_by.value, checkout_url: e.checkout_url.value
    };
  }, function (d) { return 'Created drop ' + d.id + '.'; });

  form('series-form', '/v1/admin/series', function (e) {
    return {
      id: e.id.value, name: e.name.value, product: e.product.value, stock: num(e.stock.value),
      per_user_limit: num(e.per_user_limit.value), weekday: num(e.weekday.value), sale_time: e.sale_time.value,
      time_zone: e.time_zone.value, registration_opens_before_seconds: num(e.registration_opens_before_seconds.value),
      mode: e.mode.value
    };
  }, function (d) { return 'Created series ' + d.id + '.'; });

  signedIn(!!token);
})();
