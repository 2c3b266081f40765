// flashdrop ops page: live stats, pause and resume, new drops and series,
// all through the admin API with the token typed into the page.
'use strict';

(function () {
  var $ = function (id) { return document.getElementById(id); };
  var token = sessionStorage.getItem('flashdrop.admin') || '';
  var timers = [];

  // Every request gives up after FETCH_TIMEOUT: a node that died behind
  // the balancer, or a half-open connection, must not hold a poll (and so
  // the whole page) forever. Figures older than STALE_AFTER are said to be
  // old, whatever the reason.
  var FETCH_TIMEOUT = 4000;
  var STALE_AFTER = 3000;

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
    network: 'No answer from the server (no connection, or none within 4 s).'
  };
  function sentence(p) { return sentences[p.code] || p.title || sentences.internal; }
  var NO_LONGER = 'Your token is no longer accepted (expired, rotated or revoked). Sign in again.';

  // timed is fetch with a deadline, read to the end: { ok, status, text,
  // headers, late }, status 0 when no answer came: late when the deadline
  // passed, else the connection failed. The deadline covers the body too,
  // since a stalled body stalls as much.
  function timed(method, path, headers, body, timeout) {
    var ctl = new AbortController();
    var late = false;
    var deadline = setTimeout(function () { late = true; ctl.abort(); }, timeout || FETCH_TIMEOUT);
    return fetch(path, { method: method, headers: headers, body: body, cache: 'no-store', signal: ctl.signal })
      .then(function (resp) {
        return resp.text().then(function (t) { return { ok: resp.ok, status: resp.status, text: t, headers: resp.headers }; });
      })
      .then(function (r) { clearTimeout(deadline); return r; },
        function () { clearTimeout(deadline); return { ok: false, status: 0, text: '', late: late }; });
  }

  // timeout: FETCH_TIMEOUT unless said (a webhook replay takes longer).
  function api(method, path, body, timeout) {
    var h = { 'Accept': 'application/json', 'Authorization': 'Bearer ' + token };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    return timed(method, path, h, body === undefined ? undefined : JSON.stringify(body), timeout).then(function (r) {
      var data = {};
      if (r.status === 0) data = { code: 'network' };
      else try { data = JSON.parse(r.text); } catch (e) { data = { text: r.text }; }
      return { ok: r.ok, status: r.status, data: data, headers: r.headers || new Headers(), late: !!r.late };
    });
  }

  // setText changes a node only when its text differs: no needless
  // layout, and a live region is not announced again for the same words.
  function setText(el, t) {
    t = String(t);
    if (el.textContent !== t) el.textContent = t;
  }
  function capital(t) { return t.charAt(0).toUpperCase() + t.slice(1); }
  function clock(t) { return new Date(t).toTimeString().slice(0, 8); } // HH:MM:SS, the viewer's time
  // why says what went wrong: an HTTP status, a problem code the server
  // gave for one part of an answer, or no answer at all.
  function why(status) {
    if (status === 'unavailable') return 'the store did not answer';
    if (typeof status === 'string') return status;
    return status ? 'status ' + status : 'no answer';
  }

  // --- signing in and out ---------------------------------------------
  function signedIn(on) {
    $('signin').hidden = on;
    $('console').hidden = !on;
    timers.forEach(clearInterval);
    timers = [];
    if (!on) return;
    resumedAt = Date.now();
    everything();
    loadHistory();
    // Each part on a timer of its own: a slow drops list must not stop
    // the chart, nor the chart the list.
    timers.push(setInterval(function () { if (!document.hidden) pollDrops(); }, 1000));
    timers.push(setInterval(function () { if (!document.hidden) pollMetrics(); }, 1000));
    timers.push(setInterval(function () { if (!document.hidden) pollWebhooks(); }, 5000));
    timers.push(setInterval(freshness, 500));
  }
  function everything() { pollDrops(); pollMetrics(); pollWebhooks(); }

  // A hidden tab asks nothing (the timers skip their turn); back in
  // view, it asks at once rather than show minutes-old figures for a
  // second, and does not call them stale before that answer had time.
  document.addEventListener('visibilitychange', function () {
    if (document.hidden || !token) return;
    resumedAt = Date.now();
    everything();
  });

  $('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    token = $('admin-token').value.trim();
    api('GET', '/v1/admin/drops').then(function (r) {
      if (!r.ok) { alertMsg(sentence(r.data)); token = ''; return; }
      sessionStorage.setItem('flashdrop.admin', token);
      $('admin-token').value = '';
      alertMsg('');
      signedIn(true);
    });
  });
  $('forget').addEventListener('click', function () { signOut(''); });

  // signOut forgets the token. reason is said first, so the sign-in form
  // never appears mid-sale without a word on why.
  function signOut(reason) {
    sessionStorage.removeItem('flashdrop.admin');
    token = '';
    barrier = seq; // answers still on their way are for the old token
    alertMsg(reason);
    signedIn(false);
    $('admin-token').focus();
  }
  // rejected signs out when the server no longer takes the token.
  function rejected(r) {
    if (r.status !== 401 || !token) return false;
    signOut(NO_LONGER);
    return true;
  }
  function alertMsg(t) {
    $('ops-message').textContent = t;
    $('signin-message').textContent = t;
  }

  // --- freshness: when the figures were read, and whether they still are
  var lastOk = 0; // when the drops list last answered
  var lastFail = null; // { status } of the last failed drops poll, until one succeeds
  var resumedAt = 0; // when polling (re)started: sign-in, or the tab back in view

  function freshness() {
    if (!token) return;
    setText($('updated'), lastOk ? 'Updated ' + clock(lastOk) : 'Not updated yet');
    var age = Date.now() - Math.max(lastOk, resumedAt);
    var stale = !document.hidden && (lastFail !== null || age > STALE_AFTER);
    $('console').classList.toggle('is-stale', stale);
    setText($('stale'), !stale ? '' : trouble(lastFail) + ' — ' + (lastOk ? 'figures as of ' + clock(lastOk) : 'no figures yet'));
  }

  // trouble says why the drops list did not come, blaming no more than
  // the page knows. The page gives up (4 s) before the node does (a
  // request waits up to 5 s on Redis there), so a Redis that hangs leaves
  // the page with no answer, not the node's 503: the node is not blamed
  // alone. An answer with a problem body is the node's, and says what.
  function trouble(f) {
    if (!f) return 'No answer from the node for over ' + STALE_AFTER / 1000 + ' s';
    if (f.late) return 'No answer from the node in ' + FETCH_TIMEOUT / 1000 + ' s: the node, or Redis behind it, is not answering';
    if (f.status === 0) return 'Cannot reach the server: the connection failed';
    var p = f.problem || {};
    if (typeof p.code !== 'string') return 'The server answered ' + f.status + ', with no details';
    return 'The node answered ' + f.status + ': ' + (p.title || p.code.replace(/_/g, ' ')) + (p.detail ? ' (' + p.detail + ')' : '');
  }

  // --- drops and their counters -------------------------------------
  // OVERDUE_WARN is how many seconds past its deadline a hold not yet
  // expired must be for its row to warn (a sweep takes about a second).
  var OVERDUE_WARN = 10;
  var NUMBERS = ['stock', 'available', 'owed', 'held', 'confirmed', 'waitlisted', 'registered', 'released', 'referrals'];
  var pending = {}; // drop id -> 'pause' | 'resume' awaiting confirmation
  var rows = {}; // drop id -> { tr, state, flags, note, nums, action, sig, drop, stats, readAt }
  // Polls are numbered; a pause or resume that answers sets barrier to the
  // last number handed out, and answers to those earlier polls, which may
  // have read the drop before the change, are dropped.
  var seq = 0, barrier = 0;

  function cell(tr, text, num) {
    var td = document.createElement('td');
    td.textContent = text;
    if (num) td.className = 'num';
    tr.appendChild(td);
    return td;
  }

  // rowOf makes a drop's row once; later polls only change its text, so
  // the row's buttons stay the same elements under a pointer or a focus.
  function rowOf(d) {
    var row = rows[d.id];
    if (row) return row;
    var tr = document.createElement('tr');
    tr.dataset.drop = d.id;
    var th = document.createElement('th');
    th.scope = 'row';
    var a = document.createElement('a');
    a.href = '/d/' + encodeURIComponent(d.id);
    a.textContent = d.id;
    th.appendChild(a);
    tr.appendChild(th);
    row = { tr: tr, nums: {}, flags: {}, sig: null };
    // The state, then the pause and a rehearsal as flags (empty, so
    // hidden, when they do not apply), then a note on the figures.
    var st = cell(tr, '');
    st.className = 'state-cell';
    row.state = span('drop-state');
    st.appendChild(row.state);
    ['paused', 'rehearsal'].forEach(function (k) { row.flags[k] = st.appendChild(span('ops-flag flag-' + k)); });
    row.note = st.appendChild(span('row-note'));
    // The kill switch next to the state, in a column of fixed width: it
    // stays on screen however long the ids are, and the question it asks
    // moves no other column.
    row.action = cell(tr, '');
    row.action.className = 'sale-action';
    NUMBERS.forEach(function (k) { row.nums[k] = cell(tr, '…', true); row.nums[k].dataset.stat = k; });
    rows[d.id] = row; // arrange puts it in its place
    return row;
  }

  function span(cls) {
    var el = document.createElement('span');
    el.className = cls;
    return el;
  }

  // drawRow shows drop d with stats st (null: keep the figures the row
  // has). row.failed is the status of the last failed stats read (0: no
  // answer), null once one succeeds.
  function owedUnits(n) { return n === 1 ? 'the 1 owed unit goes' : 'the ' + n.toLocaleString('en-US') + ' owed units go'; }

  function drawRow(d, st) {
    var row = rowOf(d);
    row.drop = d;
    if (st) row.stats = st;
    st = row.stats;
    // The lifecycle and the kill switch are two facts: a paused sale
    // that reached its end is "sale closed" flagged "paused", not just
    // "paused"; the paused row is marked as a whole too. A rehearsal is
    // flagged: it sells like a sale, but no shopper sees it.
    setText(row.state, d.state.replace(/_/g, ' '));
    setText(row.flags.paused, d.paused ? 'paused' : '');
    setText(row.flags.rehearsal, d.rehearsal ? 'rehearsal' : '');
    row.tr.classList.toggle('is-paused', !!d.paused);
    NUMBERS.forEach(function (k) { setText(row.nums[k], st && st[k] !== undefined ? st[k] : '…'); });
    var failed = row.failed !== undefined && row.failed !== null;
    var note = failed ? 'stats unavailable (' + why(row.failed) + ')' : '';
    var sum = st ? st.available + (st.owed || 0) + st.held + st.confirmed : 0;
    var warn = false;
    if (!failed && st && typeof st.stock === 'number' && sum !== st.stock) {
      // The engine keeps stock = available + owed + held + confirmed at
      // every instant (one script reads them all): a row where it fails
      // is a bug or a damaged key, and ops must see it.
      note = '⚠ available + owed + held + confirmed = ' + sum + ', not the stock ' + st.stock;
      warn = true;
    }
    // The worker nodes' sweepers expire holds within about a second of
    // their deadlines: a hold long past its own says none is running (an
    // API node sells but expires nothing), and its units wait in held
    // while the waitlist waits for them.
    var late = !failed && st ? st.expiries_overdue_seconds || 0 : 0;
    if (late >= OVERDUE_WARN) {
      note = (note ? note + ' · ' : '') + '⚠ holds ' + late + ' s past their deadline are not expired: is a worker node (--role all) running?';
      warn = true;
    }
    // Owed units are every unit released while paused with someone
    // waiting, however many wait: the resume hands them down the waitlist
    // and the rest goes back to stock. Said (not as a warning), so that
    // ops know what Resume will do: a review read 2,400 owed with 213
    // waiting as 2,400 promotions to come.
    if (!failed && !warn && st && d.paused && st.owed > 0) {
      note = 'On resume ' + owedUnits(st.owed) + ' down the waitlist (' + st.waitlisted + ' waiting), and what nobody there takes back to stock';
    }
    setText(row.note, note);
    row.tr.classList.toggle('row-stale', failed);
    row.tr.classList.toggle('mismatch', warn);
    drawAction(row, d);
  }

  // drawAction rebuilds the Sale cell only when what it offers changes
  // (paused, or a question pending), never because a figure moved: a
  // button replaced between mousedown and mouseup loses the click, and a
  // new button under the focus is read out again.
  // A sale that is over has nothing to pause or resume: the cell says
  // so with a dash, and a question still open on it is dropped.
  function drawAction(row, d) {
    var closed = d.state === 'sale_closed';
    if (closed && pending[d.id] !== 'delete') delete pending[d.id];
    var sig = (closed ? 'closed' : (d.paused ? 'paused' : 'running')) + '/' + (pending[d.id] || '') + (d.rehearsal ? '/rehearsal' : '');
    if (row.sig === sig) return;
    row.sig = sig;
    var td = row.action;
    var focused = document.activeElement && td.contains(document.activeElement) ? document.activeElement.dataset.role : '';
    td.textContent = '';
    var action = d.paused ? 'resume' : 'pause';
    if (pending[d.id] === 'delete') {
      // A rehearsal goes with everything of it (its shoppers are a load
      // test's): asked once more, as Pause is.
      var dq = td.appendChild(span('confirm-q'));
      dq.textContent = 'Delete rehearsal ' + d.id + ' and everything of it?';
      td.appendChild(button('Yes, delete', 'yes', function () { this.disabled = true; deleteRehearsal(d.id); }));
      td.appendChild(document.createTextNode(' '));
      td.appendChild(button('No', 'no', function () { ask(d.id, null); }, true));
    } else if (closed) {
      var dash = td.appendChild(span('no-action'));
      dash.textContent = '—';
      dash.title = 'The sale is over: nothing to pause or resume';
      // Its button had the keyboard's focus: the focus goes to the drop's
      // name in the same row, not to the top of the page.
      if (focused) row.tr.querySelector('th a').focus();
    } else if (pending[d.id]) {
      var q = td.appendChild(span('confirm-q'));
      q.textContent = (pending[d.id] === 'pause' ? 'Pause ' : 'Resume ') + d.id + '?';
      td.appendChild(button('Yes, ' + pending[d.id], 'yes', function () { this.disabled = true; setPaused(d.id, pending[d.id]); }));
      td.appendChild(document.createTextNode(' '));
      td.appendChild(button('No', 'no', function () { ask(d.id, null); }, true));
    } else {
      td.appendChild(button(action === 'pause' ? 'Pause' : 'Resume', action, function () { ask(d.id, action); }, action === 'resume'));
    }
    // A rehearsal can be deleted once ops are done with it: one per load
    // run would otherwise stay in Redis and in this table for good.
    if (d.rehearsal && !pending[d.id]) {
      td.appendChild(document.createTextNode(' '));
      td.appendChild(button('Delete', 'delete', function () { ask(d.id, 'delete'); }, true));
    }
    if (focused) {
      // The same button, else (a question asked or answered) the first;
      // on a sale over, where only a rehearsal's Delete may be left, the
      // drop's name, never a button the operator did not reach for.
      var again = td.querySelector('[data-role="' + focused + '"]') || (closed ? null : td.querySelector('button'));
      if (again) again.focus();
      else if (closed) row.tr.querySelector('th a').focus();
    }
  }

  // ask sets or clears the question on a drop and shows it at once, from
  // the figures the page has: no waiting for the next poll, which may be
  // slow or stuck.
  function ask(id, action) {
    if (action) pending[id] = action; else delete pending[id];
    var row = rows[id];
    if (row) drawRow(row.drop, null);
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
      if (rejected(r)) return;
      delete pending[id];
      var row = rows[id];
      if (r.ok) {
        // The answer is the drop as it now stands: draw it, and drop the
        // polls already under way, which may have read it before.
        barrier = seq;
        if (row) drawRow(r.data, null);
        $('ops-message').textContent = (action === 'pause' ? 'Paused ' : 'Resumed ') + id + '.';
      } else {
        if (row) drawRow(row.drop, null);
        $('ops-message').textContent = r.status === 0
          ? 'No answer from the server: the ' + action + ' of ' + id + ' may or may not have happened; the row shows it once the server answers.'
          : sentence(r.data);
      }
      var b = row && row.action.querySelector('button');
      if (b) b.focus();
    });
  }

  function deleteRehearsal(id) {
    api('DELETE', '/v1/admin/drops/' + encodeURIComponent(id)).then(function (r) {
      if (rejected(r)) return;
      delete pending[id];
      var row = rows[id];
      if (r.ok) {
        // Gone: its row goes at once, and the polls already under way,
        // which may have read it before, are dropped.
        barrier = seq;
        if (row) { row.tr.remove(); delete rows[id]; }
        $('ops-message').textContent = 'Deleted rehearsal ' + id + '.';
        return;
      }
      if (row) drawRow(row.drop, null);
      $('ops-message').textContent = r.status === 0
        ? 'No answer from the server: the deletion of ' + id + ' may or may not have happened; the table shows it once the server answers.'
        : sentence(r.data);
      var b = row && row.action.querySelector('button');
      if (b) b.focus();
    });
  }

  // settled: the server says the sale is over, and it has been for a
  // minute (by the drop's end time, or since this page first saw it
  // closed, whichever says so first). Its figures hardly move any more:
  // they are read once a minute, not every second.
  var closedSeen = {};
  function settled(d) {
    if (d.state !== 'sale_closed') { delete closedSeen[d.id]; return false; }
    var now = Date.now();
    if (!closedSeen[d.id]) closedSeen[d.id] = now;
    var end = Date.parse(d.sale_ends_at);
    return now - closedSeen[d.id] > 60000 || (!isNaN(end) && now - end > 60000);
  }

  var dropsBusy = false;
  function pollDrops() {
    if (dropsBusy || !token) return;
    dropsBusy = true;
    var my = ++seq;
    var done = function () { dropsBusy = false; freshness(); };
    api('GET', '/v1/admin/drops').then(function (r) {
      if (rejected(r) || my <= barrier) return;
      if (!r.ok) { lastFail = { status: r.status, late: r.late, problem: r.data }; return; }
      lastOk = Date.now();
      lastFail = null;
      var seen = {};
      listed = r.data.drops;
      listed.forEach(function (d) { if (!rows[d.id]) drawRow(d, null); }); // a new drop's state and button now, its figures with its stats
      arrange();
      exportDrops();
      var live = [], old = [];
      r.data.drops.forEach(function (d) {
        seen[d.id] = true;
        var row = rows[d.id];
        // The list carries each drop's figures (stats), or says their read
        // failed (stats_error); it leaves them out for a sale long over,
        // and an older server for every drop: those are asked for.
        if (d.stats || d.stats_error) {
          showStats(d, d.stats, d.stats_error);
        } else if (settled(d)) {
          drawRow(d, null);
          if (!row.reading && !(Date.now() - row.readAt < 60000)) old.push(d);
        } else {
          live.push(d);
        }
      });
      // A sale over no longer moves: a few of those, the longest unread
      // first, each poll, and the poll does not wait for them (hundreds of
      // old drops read at once held the live figures back).
      old.sort(function (a, b) { return (rows[a.id].readAt || 0) - (rows[b.id].readAt || 0); });
      old.slice(0, 8).forEach(function (d) {
        rows[d.id].reading = true;
        readStats(d, my).then(function () { if (rows[d.id]) rows[d.id].reading = false; });
      });
      return Promise.all(live.map(function (d) { return readStats(d, my); })).then(function () {
        if (my <= barrier) return;
        Object.keys(rows).forEach(function (id) { if (!seen[id]) { rows[id].tr.remove(); delete rows[id]; } });
      });
    }).then(done, done);
  }

  // readStats reads one drop's figures on its own and draws its row.
  function readStats(d, my) {
    return api('GET', '/v1/admin/drops/' + encodeURIComponent(d.id) + '/stats').then(function (s) {
      if (rejected(s) || my <= barrier) return;
      showStats(d, s.ok ? s.data : null, s.status);
    });
  }

  // showStats draws d's row with figures read just now, or marks their
  // read failed (failure: an HTTP status, or the list's problem code).
  function showStats(d, stats, failure) {
    var row = rowOf(d);
    row.failed = stats ? null : failure;
    if (stats) row.readAt = Date.now();
    drawRow(d, stats || null);
  }

  // --- the order of the rows ----------------------------------------
  // What an operator acts on comes first: the real drops whose sale is
  // not over, by sale start (the open ones, then the next to open), then
  // the real sales over, the latest first. The rehearsals (`flashdrop
  // load` makes one a run, with a 24-hour sale) come last, in the same
  // order, in a section of their own, folded while a real drop is listed
  // unless the operator opened it: on release day the real drop is not
  // the last of eight rows with the same red Pause.
  // A row moves only when its drop does not stand where the order puts
  // it (a new drop, a sale that ended), never while a mouse button is
  // down on the table (the row under it would change between press and
  // release), and the focus stays on the element that had it.
  var listed = []; // the drops of the last list
  var pressed = 0; // when a mouse button went down on the drops table; 0: none is
  var rehearsalsOpen = null; // the operator's choice; null: none yet

  function over(d) { return d.state === 'sale_closed'; }
  function byOrder(a, b) {
    if (over(a) !== over(b)) return over(a) ? 1 : -1;
    var sa = Date.parse(a.sale_starts_at) || 0, sb = Date.parse(b.sale_starts_at) || 0;
    if (sa !== sb) return over(a) ? sb - sa : sa - sb;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  }

  function arrange() {
    if (pressed && Date.now() - pressed < 5000) return; // (a release the page missed counts after 5 s)
    var real = [], rehearsals = [];
    listed.forEach(function (d) { if (rows[d.id]) (d.rehearsal ? rehearsals : real).push(d); });
    real.sort(byOrder);
    rehearsals.sort(byOrder);
    var focused = document.activeElement;
    place($('drops-real'), real, 0);
    place($('drops-rehearsals'), rehearsals, 1); // after its heading row
    // A moved element loses the focus: it gets it back, where it is.
    if (focused && focused !== document.activeElement && document.body.contains(focused)) focused.focus({ preventScroll: true });
    var section = $('drops-rehearsals');
    section.hidden = !rehearsals.length;
    setText($('rehearsal-count'), rehearsals.length);
    // Unless the operator chose, folded when a real drop is listed, and
    // not under the focus.
    var open = rehearsalsOpen !== null ? rehearsalsOpen
      : !real.length || (section.contains(document.activeElement) && document.activeElement !== $('rehearsals-toggle'));
    section.classList.toggle('collapsed', !open);
    $('rehearsals-toggle').setAttribute('aria-expanded', String(open));
  }

  // place puts the rows of drops in body in their order, after its first
  // skip rows; a row already in its place is not touched.
  function place(body, drops, skip) {
    drops.forEach(function (d, i) {
      var tr = rows[d.id].tr, at = body.children[i + skip] || null;
      if (at !== tr) body.insertBefore(tr, at);
    });
  }

  $('rehearsals-toggle').addEventListener('click', function () {
    rehearsalsOpen = this.getAttribute('aria-expanded') !== 'true';
    arrange();
  });
  $('drops').addEventListener('pointerdown', function () { pressed = Date.now(); });
  // After the release (and the click it makes), the rows take their order.
  function released() { if (pressed) { pressed = 0; setTimeout(arrange, 0); } }
  document.addEventListener('pointerup', released, true);
  document.addEventListener('pointercancel', released, true);

  // --- reserve outcomes per second, from this node's /metrics ---------
  // Series: what the shoppers got (won, sold out), the server failing
  // them (unavailable: 503s and 500s, the runbook's alarm), the rate
  // limit, and every other business refusal (paused, not registered,
  // limit reached...).
  var SERIES = ['won', 'sold_out', 'unavailable', 'rate_limited', 'other'];
  var colors = { won: '#1d7a46', sold_out: '#b3261e', unavailable: '#7b2cbf', rate_limited: '#0b5f8a', other: '#8a5a00' };
  var WINDOW = 120000; // the chart's span, by the samples' time
  var MAX_GAP = 10000; // samples further apart start a new baseline
  var last = null; // the previous good sample: { t, raw: outcome -> total }
  var points = {}; // series -> [{ t, v, n, dt }] of the last WINDOW: rate, count, interval (ms)
  var present = { rate_limited: false }; // series shown only once the node has counted any

  function seriesOf(outcome) {
    if (outcome === 'internal') return 'unavailable';
    return SERIES.indexOf(outcome) >= 0 ? outcome : 'other';
  }

  // earliest is when the chart's oldest rate began (the start of its
  // interval), or none if it has no rate yet.
  function earliest(none) {
    var first = none;
    SERIES.forEach(function (k) { var p = points[k] || []; if (p.length) first = Math.min(first, p[0].t - p[0].dt); });
    return first;
  }

  // loadHistory puts the node's outcomes of the last WINDOW, from its own
  // memory (GET /v1/admin/outcomes), before the rates the page samples
  // itself: a page opened after a rush draws it at once. Only seconds
  // before the page's first sampled rate are taken, so none counts twice.
  function loadHistory() {
    api('GET', '/v1/admin/outcomes?seconds=' + WINDOW / 1000).then(function (r) {
      if (!r.ok || !token || !r.data || !r.data.seconds) return;
      var shift = Date.now() - Date.parse(r.data.now); // the node's clock to the page's
      var firstLive = earliest(Infinity);
      var hist = {};
      SERIES.forEach(function (k) { hist[k] = []; });
      // Up to the page's first sampled rate, or its first sample (its
      // counting starts there), whichever came first.
      var cut = Math.min(firstLive, last ? last.t : Infinity);
      var push = function (t, s, dt) { // a second (or more, a late tick) ending at t
        if (t + shift > cut) return false;
        SERIES.forEach(function (k) {
          var n = (s && s[k]) || 0;
          if (k === 'rate_limited' && n > 0) present.rate_limited = true;
          hist[k].push({ t: t + shift, v: n * 1000 / dt, n: n, dt: dt });
        });
        return true;
      };
      // Each second the node lists at its own end (its sampler's ticks
      // jitter under load, and a late one covers more than a second), and
      // the quiet seconds it leaves out as zeros a second apart.
      var prev = Date.parse(r.data.from), end = Date.parse(r.data.now);
      var seconds = r.data.seconds.concat([null]);
      for (var i = 0; i < seconds.length; i++) {
        var at = seconds[i] ? Date.parse(seconds[i].at) : end;
        while (at - prev >= 1500 && push(prev + 1000, null, 1000)) prev += 1000;
        if (at - prev >= 1500) break; // past the cut
        if (seconds[i] && !push(at, seconds[i], Math.max(at - prev, 1000))) break;
        prev = at;
      }
      SERIES.forEach(function (k) { points[k] = hist[k].concat(points[k] || []); });
      chart(Date.now());
    });
  }

  var metricsBusy = false;
  function pollMetrics() {
    if (metricsBusy || !token) return;
    metricsBusy = true;
    var done = function () { metricsBusy = false; };
    // The admin token goes along: under overload the server lets an admin
    // through where it would turn a stranger away (/metrics is public).
    timed('GET', '/metrics', { 'Accept': 'text/plain', 'Authorization': 'Bearer ' + token }).then(sample).then(done, done);
  }

  function sample(r) {
    if (!token) return;
    if (!r.ok) {
      // An error page is no sample: parsed, it reads as counters at zero,
      // and the next good one as a huge spike. Skip it, and start over
      // from the next, since the rate across the hole is unknown.
      setText($('metrics-note'), 'metrics unavailable (' + why(r.status) + ')');
      setText($('lag'), 'unknown (no metrics)');
      showHealth(null);
      $('legend').classList.add('is-stale');
      $('chart').classList.add('is-stale');
      last = null;
      return;
    }
    var raw = {};
    var lag = null;
    var lagUnknown = 0;
    var health = { inflight: null, e5: 0, redis: 0, clock: null };
    var started = null;
    r.text.split('\n').forEach(function (line) {
      var m = /^flashdrop_reserve_outcomes_total\{outcome="([^"]+)"\} ([0-9.e+]+)$/.exec(line);
      if (m) raw[m[1]] = parseFloat(m[2]);
      var l = /^flashdrop_outbox_lag ([0-9.e+]+)$/.exec(line);
      if (l) lag = parseFloat(l[1]);
      // While the node cannot read an outbox (Redis away), the lag is its
      // count from before, which can be 0 with events waiting.
      var u = /^flashdrop_outbox_lag_unknown_seconds ([0-9.e+-]+)$/.exec(line);
      if (u) lagUnknown = parseFloat(u[1]);
      // The node's own trouble, apart from the shoppers' refusals: what
      // it is handling now, the 5xx it answered (its overload 503s
      // included, refused before any route) and the Redis calls that
      // failed.
      var i = /^flashdrop_http_requests_in_flight ([0-9.e+]+)$/.exec(line);
      if (i) health.inflight = parseFloat(i[1]);
      var e = /^flashdrop_http_requests_total\{route="[^"]*",status="5\d\d"\} ([0-9.e+]+)$/.exec(line);
      if (e) health.e5 += parseFloat(e[1]);
      var x = /^flashdrop_redis_errors_total ([0-9.e+]+)$/.exec(line);
      if (x) health.redis = parseFloat(x[1]);
      // Redis's clock less this node's, which the engine adds (--clock
      // redis); absent when the node keeps its own.
      var k = /^flashdrop_clock_offset_seconds (-?[0-9.]+(?:e[-+]?[0-9]+)?)$/.exec(line);
      if (k) health.clock = parseFloat(k[1]);
      var p = /^process_start_time_seconds ([0-9.e+]+)$/.exec(line);
      if (p) started = p[1];
    });
    health.started = started;
    showHealth(health);
    setText($('metrics-note'), '');
    $('legend').classList.remove('is-stale');
    $('chart').classList.remove('is-stale');
    // Only a node with a relay (--role all) reports the lag: an API node's
    // page said "unknown" alike whether the workers were fine or all gone.
    if (lag === null) setText($('lag'), 'unknown: this node runs no relay (an API node); open /ops on a worker node (--role all) to see it');
    else if (lagUnknown > 0) setText($('lag'), 'unknown: the node has not been able to read it for ' + Math.round(lagUnknown) + ' s (' + events(lag) + ' waiting when it last could)');
    else setText($('lag'), events(lag) + ' waiting to be published');
    var t = Date.now();
    if (last && t - last.t < 250) return; // too close to the last one for a rate
    // The process's start time tells another node (behind a balancer) or
    // a restart: its counters are another's, even where they only grew,
    // or appeared (a counter new on the same process starts from zero).
    if (last && t - last.t <= MAX_GAP && last.started === started && !wentBack(last.raw, raw)) {
      var dt = (t - last.t) / 1000;
      var count = {};
      SERIES.forEach(function (k) { count[k] = 0; });
      Object.keys(raw).forEach(function (o) { count[seriesOf(o)] += raw[o] - (last.raw[o] || 0); });
      SERIES.forEach(function (k) {
        (points[k] = points[k] || []).push({ t: t, v: count[k] / dt, n: count[k], dt: t - last.t });
      });
    }
    // else: the first sample, one after a gap, or counters that went
    // down (a restart, or another node behind the balancer): only a new
    // baseline, never a spike.
    Object.keys(raw).forEach(function (o) { if (seriesOf(o) === 'rate_limited') present.rate_limited = true; });
    last = { t: t, raw: raw, started: started };
    SERIES.forEach(function (k) {
      var p = points[k] || [];
      while (p.length && p[0].t < t - WINDOW) p.shift();
    });
    chart(t);
  }

  // showHealth shows the node's in-flight count and its 5xx and Redis
  // error rates since the previous sample (none across a gap, or when a
  // counter went down: another node, or a restart).
  var lastHealth = null;
  function showHealth(h) {
    var t = Date.now();
    setText($('inflight'), h === null || h.inflight === null ? 'unknown' : String(h.inflight));
    showClock(h === null ? undefined : h.clock);
    var prev = lastHealth;
    if (h === null) { // no metrics: nothing known, and the next sample is a new baseline
      lastHealth = null;
      setText($('http5xx'), 'unknown');
      setText($('redis-errors'), 'unknown');
      return;
    }
    if (prev && t - prev.t < 250) return; // too close for a rate: keep the baseline
    lastHealth = { t: t, e5: h.e5, redis: h.redis, started: h.started };
    if (!prev || t - prev.t > MAX_GAP || prev.started !== h.started || h.e5 < prev.e5 || h.redis < prev.redis) {
      setText($('http5xx'), '…');
      setText($('redis-errors'), '…');
      return;
    }
    var dt = (t - prev.t) / 1000;
    setText($('http5xx'), ((h.e5 - prev.e5) / dt).toFixed(1));
    setText($('redis-errors'), ((h.redis - prev.redis) / dt).toFixed(1));
  }

  // showClock says whose time the node sells on: Redis's, with how far
  // the node's own clock is from it (a second or more is the node's time
  // service to fix), or its own (--clock local). undefined: unknown.
  function showClock(offset) {
    var el = $('clock');
    el.classList.remove('bad');
    if (offset === undefined) { setText(el, 'unknown'); return; }
    if (offset === null) { setText(el, "this node's own"); return; }
    var ms = Math.abs(offset) * 1000;
    if (ms < 1) { setText(el, "Redis's (this node's agrees within 1 ms)"); return; }
    var size = ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(1) + ' s';
    setText(el, "Redis's (this node's is " + size + (offset > 0 ? ' behind' : ' ahead') + (ms >= 1000 ? ': check its time service)' : ')'));
    if (ms >= 1000) el.classList.add('bad');
  }

  // wentBack: some counter is lower than before, or gone. Counters only
  // grow, so these are another process's.
  function wentBack(before, now) {
    return Object.keys(before).some(function (o) { return !(now[o] >= before[o]); });
  }

  // events: "1 event", "3 events", "1,250 events".
  function events(n) { return n === 1 ? '1 event' : Math.round(n).toLocaleString('en-US') + ' events'; }

  // rateText: a rate a second, one decimal below 10 ("0.4"), whole
  // numbers with thousands separators above ("1,250").
  function rateText(v) { return v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US'); }
  function spanText(ms) { return ms >= WINDOW - 5000 ? '2 min' : Math.max(1, Math.round(ms / 1000)) + ' s'; }

  var legendSpans = {}; // series -> its legend entry, made once
  function chart(now) {
    var c = $('chart');
    var g = c.getContext('2d');
    var w = c.width, h = c.height, pad = 36, bottom = h - 28;
    var xOf = function (t) { return pad + (w - pad - 12) * (1 - (now - t) / WINDOW); };
    g.clearRect(0, 0, w, h);
    var max = 1;
    SERIES.forEach(function (k) { (points[k] || []).forEach(function (p) { if (p.v > max) max = p.v; }); });
    g.font = '12px sans-serif';
    g.lineWidth = 1;
    // Axes, a half-way line, and the time axis in seconds before now.
    g.strokeStyle = '#dfe1ea';
    g.beginPath();
    g.moveTo(pad, bottom); g.lineTo(w - 12, bottom);
    g.moveTo(pad, 8); g.lineTo(pad, bottom);
    g.moveTo(pad, (bottom + 10) / 2); g.lineTo(w - 12, (bottom + 10) / 2);
    g.stroke();
    g.fillStyle = '#5b607a';
    g.textAlign = 'right';
    g.fillText(rateText(max) + '/s', pad - 4, 16);
    g.fillText(rateText(max / 2), pad - 4, (bottom + 10) / 2 + 4);
    g.fillText('0', pad - 4, bottom + 4);
    g.textAlign = 'center';
    [120, 90, 60, 30, 0].forEach(function (ago) {
      var x = xOf(now - ago * 1000);
      g.beginPath(); g.moveTo(x, bottom); g.lineTo(x, bottom + 4); g.stroke();
      g.textAlign = ago === 0 ? 'right' : ago === 120 ? 'left' : 'center';
      g.fillText(ago ? '\u2212' + ago + ' s' : 'now', ago === 0 ? x + 4 : x, h - 8);
    });
    g.textAlign = 'left';
    // The time the window covers: since the first rate in it (the page
    // opened, or a new baseline, less than two minutes ago), at most two
    // minutes.
    var first = earliest(now);
    var covered = Math.min(WINDOW, now - first);
    var legend = $('legend');
    SERIES.forEach(function (k) {
      var entry = legendSpans[k];
      if (!entry) { // made in the series' order, shown once they count
        entry = legendSpans[k] = legend.appendChild(span('c-' + k));
        entry.appendChild(document.createElement('b')).textContent = k.replace('_', ' ');
        entry.appendChild(document.createTextNode(''));
      }
      entry.hidden = k in present && !present[k];
      if (entry.hidden) return;
      var s = points[k] || [];
      g.strokeStyle = colors[k];
      g.lineWidth = 2;
      g.beginPath();
      var x, y, peak = 0, total = 0;
      s.forEach(function (p, i) {
        // x by the sample's time, so the span is two minutes however
        // often samples came; a gap stays a gap.
        x = xOf(p.t);
        y = bottom - (bottom - 10) * p.v / max;
        if (i === 0 || p.t - s[i - 1].t > MAX_GAP) g.moveTo(x, y); else g.lineTo(x, y);
        if (p.v > peak) peak = p.v;
        total += p.n;
      });
      g.stroke();
      if (s.length) {
        // The latest rate as a dot: a line needs two samples, and the
        // first rate after a (new) baseline would show nothing at all.
        g.fillStyle = colors[k];
        g.beginPath();
        g.arc(x, y, 3, 0, 2 * Math.PI);
        g.fill();
      }
      // The legend says what a glance at an empty chart cannot: the
      // peak and the count over the window, so a rush a minute ago is
      // still there in figures once it has passed.
      var text = ': ' + (s.length ? s[s.length - 1].v.toFixed(1) : '0.0') + '/s now';
      if (s.length) {
        text += total > 0
          ? ' · peak ' + rateText(peak) + '/s · ' + Math.round(total).toLocaleString('en-US') + ' in ' + spanText(covered)
          : ' · none in ' + spanText(covered);
      }
      if (entry.lastChild.nodeValue !== text) entry.lastChild.nodeValue = text;
    });
  }

  // --- webhooks ------------------------------------------------------
  // A row per webhook, made once and then only changed, as the drops'
  // rows: its Enable and Replay buttons stay the same elements under a
  // pointer or a focus across the refreshes. Each asks first, as Pause
  // does, and the server's answer is said under the table. A webhook with
  // dead letters waiting says how many beside its state, and offers to
  // replay exactly those (dead_letters: true); once a replay has said
  // some can't be delivered (the stream no longer holds their events),
  // to dismiss those (POST …/dead-letters/dismiss, missing: true), so the
  // count stops holding what no replay will ever send.
  var hooksBusy = false;
  var hooksAgain = false; // a poll asked for while one ran: it runs next
  var hooksWritable = true; // the token may change webhooks (webhooks:write)
  var hookRows = {}; // webhook id -> { tr, cells, action, sig, hook }
  var hookAsk = {}; // webhook id -> 'enable' | 'replay' | 'dead' | 'dismiss', a question open
  var hookGone = {}; // webhook id -> dead letters its last replay found the stream no longer holds
  var hookWork = {}; // webhook id -> words while its enable or replay runs
  var streakSeen = {}; // webhook id -> failing_since last seen (an enable clears it)
  var replaySince = {}; // webhook id -> the time its replay question offers (UTC, minutes)
  var REPLAY_TIMEOUT = 15000; // a replay call may take 8 s on the server
  var REPLAY_CALLS = 50; // 50,000 events at most per press (1,000 a call)

  function pollWebhooks() {
    if (hooksBusy || !token) return;
    hooksBusy = true;
    var done = function () {
      hooksBusy = false;
      if (hooksAgain) { hooksAgain = false; pollWebhooks(); }
    };
    api('GET', '/v1/admin/webhooks').then(function (r) {
      if (rejected(r) || !token) return;
      var note = $('webhooks-note');
      if (!r.ok && r.status !== 403 && r.status !== 404) {
        // Passing trouble (5xx, 429, no answer): keep what the tables
        // show, marked as old, and try again on the next turn.
        setText(note, 'Could not load the webhooks (' + why(r.status) + '); retrying.');
        $('webhooks').classList.add('is-stale');
        $('deliveries').classList.add('is-stale');
        return;
      }
      setText(note, '');
      $('webhooks').classList.remove('is-stale');
      $('deliveries').classList.remove('is-stale');
      // The list names the token's scopes (Flashdrop-Scopes): one with
      // webhooks:read only sees the states and no button it would be
      // refused. A node that does not say is of a version before
      // webhooks:read, whose list only webhooks:write could read.
      var scopes = r.ok ? r.headers.get('Flashdrop-Scopes') : null;
      hooksWritable = scopes === null || scopes.split(',').indexOf('webhooks:write') >= 0;
      $('webhooks-readonly').hidden = !r.ok || hooksWritable;
      // A key without webhooks:all is answered only the webhooks it
      // created (none, for a key that only reads): said, so that an empty
      // or short table is not taken for all there is.
      var own = scopes !== null && scopes.split(',').indexOf('webhooks:all') < 0;
      $('webhooks-own').hidden = !own;
      var body = $('webhooks').tBodies[0];
      var list = r.ok ? (r.data.webhooks || []) : [];
      var keep = {};
      list.forEach(function (w) { keep[w.id] = true; });
      Object.keys(hookRows).forEach(function (id) {
        if (keep[id]) return;
        hookRows[id].tr.remove();
        delete hookRows[id]; delete hookAsk[id]; delete hookGone[id];
      });
      var empty = $('webhooks-empty');
      if (!list.length) {
        // 403 and 404 will not pass by themselves: say which it is, and
        // show no delivery log that could be read as current. Without
        // webhooks:read (or webhooks:write) there is no row, so no button
        // to fail.
        var text = r.ok ? (own ? 'No webhooks created by this key.' : 'No webhooks.')
          : r.status === 404 ? 'Webhooks are not configured on this server.'
            : capital(r.data.detail || 'this token lacks the scope webhooks:read') + ': the webhooks cannot be shown, enabled or replayed.';
        if (!empty) {
          empty = document.createElement('tr');
          empty.id = 'webhooks-empty';
          cell(empty, '').colSpan = 7;
          body.appendChild(empty);
        }
        setText(empty.firstChild, text);
        if (!r.ok) showDeliveries([], text);
        else showDeliveries([], 'No delivery attempts yet.');
        return;
      }
      if (empty) empty.remove();
      list.forEach(function (w, i) {
        var row = hookRowOf(w);
        // Moved only when out of place: moving a row takes the focus
        // from its buttons.
        if (body.rows[i] !== row.tr) body.insertBefore(row.tr, body.rows[i] || null);
        drawHook(row, w);
      });
      return pollDeliveries(list);
    }).then(done, done);
  }

  // refreshHooks reads the webhooks again now (after one of the poll
  // under way, which may have read them before the change).
  function refreshHooks() {
    if (hooksBusy) hooksAgain = true; else pollWebhooks();
  }

  function hookRowOf(w) {
    var row = hookRows[w.id];
    if (row) return row;
    var tr = document.createElement('tr');
    tr.dataset.webhook = w.id;
    var th = document.createElement('th');
    th.scope = 'row';
    th.className = 'hook-name';
    tr.appendChild(th);
    row = { tr: tr, sig: null, name: th.appendChild(span('hook-id')), target: th.appendChild(span('hook-target')) };
    // The state, then the dead letters waiting (empty, so hidden, when
    // there are none).
    var stateCell = cell(tr, '');
    stateCell.className = 'hook-state-cell';
    row.state = stateCell.appendChild(span('hook-state'));
    row.deadWaiting = stateCell.appendChild(span('hook-dead'));
    row.action = cell(tr, '');
    row.action.className = 'hook-action';
    row.delivered = cell(tr, '', true);
    row.failed = cell(tr, '', true);
    row.dead = cell(tr, '', true);
    row.last = cell(tr, '');
    row.last.className = 'hook-last';
    hookRows[w.id] = row;
    return row;
  }

  function drawHook(row, w) {
    row.hook = w;
    var st = w.status || w;
    if (st.failing_since) streakSeen[w.id] = st.failing_since;
    // What it gets: ops see which integrations a rehearsal reaches.
    var gets = (w.types && w.types.length ? w.types.join(', ') : 'every event') + (w.rehearsals ? ', rehearsals too' : '');
    setText(row.name, w.id);
    setText(row.target, w.url + ' · ' + gets);
    setText(row.state, w.disabled
      ? 'disabled' + (w.disabled_at ? ' since ' + utcText(w.disabled_at) : '') + (w.disabled_reason ? ': ' + w.disabled_reason : '')
      : (st.consecutive_failures ? 'enabled, failing: ' + st.consecutive_failures + ' in a row' : 'enabled'));
    setText(row.deadWaiting, deadWaiting(w));
    row.tr.classList.toggle('is-disabled', !!w.disabled);
    setText(row.delivered, st.delivered || 0);
    setText(row.failed, st.failed_attempts || 0);
    setText(row.dead, st.dead_lettered || 0);
    setText(row.last, st.last_error || st.last_status || '—');
    drawHookAction(row, w);
  }

  // deadPending is how many of w's dead letters no delivery has reached
  // its receiver with since (dead_lettered counts every one, ever).
  function deadPending(w) { return (w.status || w).dead_letters_pending || 0; }
  function deadLetters(n) { return n.toLocaleString('en-US') + (n === 1 ? ' dead letter' : ' dead letters'); }
  function deadWaiting(w) { var n = deadPending(w); return n > 0 ? deadLetters(n) + ' waiting' : ''; }

  function utcText(t) { return t.replace('T', ' ').replace(/(:\d\d)(\.\d+)?Z$/, '$1') + ' UTC'; }

  // drawHookAction rebuilds the action cell only when what it offers
  // changes: the state, a question, the words of work under way, or what
  // the token may do (a read-only token is offered nothing).
  function drawHookAction(row, w) {
    var ask = hookAsk[w.id] || '';
    if (ask === 'enable' && !w.disabled) { delete hookAsk[w.id]; ask = ''; } // enabled meanwhile
    var dead = deadPending(w) > 0;
    if (ask === 'dead' && !dead) { delete hookAsk[w.id]; ask = ''; } // replayed meanwhile
    if (!dead) delete hookGone[w.id]; // none left to dismiss
    var gone = Math.min(hookGone[w.id] || 0, deadPending(w));
    if (ask === 'dismiss' && !gone) { delete hookAsk[w.id]; ask = ''; }
    var sig = (hooksWritable ? 'rw' : 'ro') + '/' + (w.disabled ? 'off' : 'on') + '/' + (dead ? 'dead' : '') + '/' + gone + '/' + ask + '/' + (hookWork[w.id] || '');
    if (row.sig === sig) return;
    row.sig = sig;
    var td = row.action;
    var focused = document.activeElement && td.contains(document.activeElement) ? document.activeElement.dataset.role : '';
    td.textContent = '';
    if (!hooksWritable) {
      // Nothing to offer; #webhooks-readonly says why.
    } else if (hookWork[w.id]) {
      td.appendChild(span('hook-work')).textContent = hookWork[w.id];
    } else if (ask === 'enable') {
      td.appendChild(span('confirm-q')).textContent = 'Enable ' + w.id + '? Its waiting events are sent to it again.';
      td.appendChild(button('Yes, enable', 'yes', function () { this.disabled = true; enableHook(w.id); }));
      td.appendChild(document.createTextNode(' '));
      td.appendChild(button('No', 'no', function () { askHook(w.id, null); }, true));
    } else if (ask === 'replay') {
      var q = td.appendChild(span('confirm-q'));
      q.appendChild(document.createTextNode('Replay to ' + w.id + ' every event of its types stored since '));
      var since = document.createElement('input');
      since.type = 'datetime-local';
      since.step = '60';
      since.dataset.role = 'since';
      since.setAttribute('aria-label', 'Replay the events stored since (UTC)');
      since.value = replaySince[w.id] || defaultSince(w.id);
      since.addEventListener('input', function () { replaySince[w.id] = since.value; });
      q.appendChild(since);
      q.appendChild(document.createTextNode(' UTC? The dead letters come again, and so does every event of that time it already has (it drops those by id).'));
      td.appendChild(button('Yes, replay', 'yes', function () { this.disabled = true; replayHook(w.id, since.value); }));
      td.appendChild(document.createTextNode(' '));
      td.appendChild(button('No', 'no', function () { askHook(w.id, null); }, true));
    } else if (ask === 'dead') {
      td.appendChild(span('confirm-q')).textContent = 'Replay the dead letters of ' + w.id +
        '? Each is sent to it again, and leaves the list once it takes it; no other event is sent.';
      td.appendChild(button('Yes, replay them', 'yes', function () { this.disabled = true; replayDeadLetters(w.id); }));
      td.appendChild(document.createTextNode(' '));
      td.appendChild(button('No', 'no', function () { askHook(w.id, null); }, true));
    } else if (ask === 'dismiss') {
      td.appendChild(span('confirm-q')).textContent = 'Dismiss the ' + deadLetters(gone) + ' of ' + w.id +
        ' that can\'t be delivered? The stream no longer holds ' + (gone === 1 ? 'its event' : 'their events') +
        ', so no replay can send ' + (gone === 1 ? 'it' : 'them') + '; ' + (gone === 1 ? 'it leaves' : 'they leave') +
        ' the list, and the dead-lettered count keeps ' + (gone === 1 ? 'it' : 'them') + '.';
      td.appendChild(button('Yes, dismiss', 'yes', function () { this.disabled = true; dismissDeadLetters(w.id); }));
      td.appendChild(document.createTextNode(' '));
      td.appendChild(button('No', 'no', function () { askHook(w.id, null); }, true));
    } else {
      if (w.disabled) td.appendChild(button('Enable', 'enable', function () { askHook(w.id, 'enable'); }));
      td.appendChild(document.createTextNode(' '));
      td.appendChild(button('Replay…', 'replay', function () { askHook(w.id, 'replay'); }, true));
      if (dead) {
        td.appendChild(document.createTextNode(' '));
        td.appendChild(button('Replay dead letters', 'replay-dead', function () { askHook(w.id, 'dead'); }, true));
      }
      if (gone) {
        td.appendChild(document.createTextNode(' '));
        td.appendChild(button('Dismiss ' + gone.toLocaleString('en-US') + ' that can\'t be delivered', 'dismiss-dead',
          function () { askHook(w.id, 'dismiss'); }, true));
      }
    }
    if (focused) {
      var again = td.querySelector('[data-role="' + focused + '"]') || td.querySelector('button');
      if (again) again.focus();
    }
  }

  // defaultSince offers the replay from 5 minutes before the webhook's
  // failures began (an event stored just before its first failed attempt
  // is among them), else from an hour ago: UTC, to the minute.
  function defaultSince(id) {
    var from = streakSeen[id] ? Date.parse(streakSeen[id]) - 5 * 60000 : Date.now() - 3600000;
    return new Date(from).toISOString().slice(0, 16);
  }

  function askHook(id, what) {
    if (what) hookAsk[id] = what; else delete hookAsk[id];
    if (what === 'replay') replaySince[id] = replaySince[id] || defaultSince(id);
    var row = hookRows[id];
    if (!row) return;
    drawHook(row, row.hook);
    var first = row.action.querySelector(what ? '[data-role="yes"]' : 'button');
    if (first) first.focus();
  }

  function hookSay(t) { setText($('webhooks-message'), t); }

  // hookRefusal words a refused enable or replay.
  function hookRefusal(r, what) {
    if (r.status === 403) return 'This token lacks the scope webhooks:write: it cannot ' + what + ' a webhook.';
    if (r.data.code === 'replay_running') return 'A replay of this webhook is already running (from this page or another); wait for it to finish.';
    return sentence(r.data) + (r.data.detail ? ' (' + r.data.detail + ')' : '');
  }

  // settleHook ends a question or the work on a webhook, and reads the
  // webhooks again at once: a replay takes what it delivered off the
  // dead letters waiting.
  function settleHook(id) {
    delete hookAsk[id];
    delete hookWork[id];
    var row = hookRows[id];
    if (row) {
      drawHook(row, row.hook);
      var b = row.action.querySelector('button');
      if (b) b.focus();
    }
    refreshHooks();
  }

  function working(id, words) {
    hookWork[id] = words;
    var row = hookRows[id];
    if (row) drawHook(row, row.hook);
  }

  function enableHook(id) {
    working(id, 'Enabling…');
    api('POST', '/v1/admin/webhooks/' + encodeURIComponent(id) + '/enable').then(function (r) {
      if (rejected(r)) return;
      var row = hookRows[id];
      if (r.ok) {
        if (row) row.hook = Object.assign({}, row.hook, r.data);
        hookSay('Enabled ' + id + ': its waiting events are being delivered. Events dead-lettered meanwhile come only with a replay.');
      } else {
        hookSay(r.status === 0 ? 'No answer from the server: ' + id + ' may or may not be enabled; its row shows it once the server answers.'
          : 'Could not enable ' + id + ': ' + hookRefusal(r, 'enable'));
      }
      settleHook(id);
    });
  }

  // replayHook replays since the time asked, following the cursor until
  // done, the first refusal, or REPLAY_CALLS calls.
  function replayHook(id, since) {
    var at = utc(since);
    if (!at) { hookSay('Say since when to replay.'); settleHook(id); return; }
    replaySince[id] = since;
    var sent = 0, calls = 0;
    var path = '/v1/admin/webhooks/' + encodeURIComponent(id) + '/replay';
    working(id, 'Replaying…');
    var step = function (body) {
      calls++;
      return api('POST', path, body, REPLAY_TIMEOUT).then(function (r) {
        if (rejected(r)) return;
        if (!r.ok) {
          hookSay((r.status === 0 ? 'No answer from the server for the replay of ' + id + ' (it may have sent events; the delivery log shows them)'
            : 'The replay of ' + id + ' was refused: ' + hookRefusal(r, 'replay')) + (sent ? '; ' + events(sent) + ' sent before.' : ''));
          return settleHook(id);
        }
        sent += r.data.delivered || 0;
        if (r.data.error) {
          hookSay('The replay of ' + id + ' stopped after ' + events(sent) + ': ' + r.data.error + '. Once the receiver takes it, replay again from the same time.');
          return settleHook(id);
        }
        if (r.data.done) {
          hookSay('Replayed ' + events(sent) + ' stored since ' + utcText(at) + ' to ' + id + ': done.');
          return settleHook(id);
        }
        if (calls >= REPLAY_CALLS) {
          hookSay('Replayed ' + events(sent) + ' to ' + id + ' and stopped there; more remain: replay again from a later time, or use the API with its cursor (' + r.data.cursor + ').');
          return settleHook(id);
        }
        working(id, 'Replaying… ' + events(sent) + ' sent');
        return step({ cursor: r.data.cursor, limit: 1000 });
      });
    };
    step({ since: at, limit: 1000 });
  }

  // replayDeadLetters resends the webhook's dead letters, and only them,
  // following the cursor until done, the first refusal, or REPLAY_CALLS
  // calls; it then says how many were delivered, the refusal if one
  // stopped it, and the dead letters the stream no longer holds (which
  // stay), and reads the row again: each delivered one has left.
  function replayDeadLetters(id) {
    var sent = 0, calls = 0, missing = {}, order = [];
    var path = '/v1/admin/webhooks/' + encodeURIComponent(id) + '/replay';
    var of = 'the dead letters of ' + id;
    var finish = function (t) {
      var list = order.map(function (k) { return missing[k]; });
      var gone = missingText(list);
      // Those with a sequence are what the stream no longer holds (one
      // without is sent by a replay by time): offered for dismissal.
      var lost = list.filter(function (m) { return m.sequence; }).length;
      if (lost) hookGone[id] = lost; else delete hookGone[id];
      hookSay(t + (gone ? ' ' + gone : ''));
      settleHook(id);
    };
    delete hookGone[id];
    working(id, 'Replaying dead letters…');
    var step = function (body) {
      calls++;
      return api('POST', path, body, REPLAY_TIMEOUT).then(function (r) {
        if (rejected(r)) return;
        if (!r.ok) {
          return finish((r.status === 0 ? 'No answer from the server for the replay of ' + of + ' (it may have sent some; the row and the delivery log show them)'
            : 'The replay of ' + of + ' was refused: ' + hookRefusal(r, 'replay')) + (sent ? '; ' + sent.toLocaleString('en-US') + ' delivered before.' : ''));
        }
        sent += r.data.delivered || 0;
        // A dead letter kept without its sequence is listed by every
        // call: each is counted once.
        (r.data.missing || []).forEach(function (m) {
          if (!missing[m.event_id]) order.push(m.event_id);
          missing[m.event_id] = m;
        });
        if (r.data.error) {
          return finish('The replay of ' + of + ' stopped with ' + deliveredText(sent) + ': ' + stopText(r.data.error) +
            '. The rest stay dead letters: replay them again once the receiver takes them.');
        }
        if (r.data.done) {
          return finish(sent || order.length ? 'Replayed ' + of + ': ' + deliveredText(sent) + '.' : id + ' has no dead letters to replay now.');
        }
        if (calls >= REPLAY_CALLS) {
          return finish('Replayed ' + of + ': ' + deliveredText(sent) + ', and stopped there; more remain: replay them again.');
        }
        working(id, 'Replaying dead letters… ' + sent.toLocaleString('en-US') + ' delivered');
        return step({ dead_letters: true, cursor: r.data.cursor, limit: 1000 });
      });
    };
    step({ dead_letters: true, limit: 1000 });
  }

  // dismissDeadLetters dismisses the webhook's dead letters that the
  // stream no longer holds (missing: true: the server judges them again,
  // so one that went meanwhile is taken too, and one it holds is not),
  // says how many went, and reads the row again, so the count drops.
  function dismissDeadLetters(id) {
    working(id, 'Dismissing…');
    api('POST', '/v1/admin/webhooks/' + encodeURIComponent(id) + '/dead-letters/dismiss', { missing: true }, REPLAY_TIMEOUT).then(function (r) {
      if (rejected(r)) return;
      if (r.ok) {
        delete hookGone[id];
        var n = r.data.dismissed || 0;
        hookSay(n ? 'Dismissed ' + deadLetters(n) + ' of ' + id + ' that the stream no longer holds.'
          : 'No dead letter of ' + id + ' is missing from the stream now: none dismissed.');
      } else {
        hookSay(r.status === 0 ? 'No answer from the server: the dead letters of ' + id + ' may or may not be dismissed; its row shows it once the server answers.'
          : 'Could not dismiss the dead letters of ' + id + ': ' + hookRefusal(r, 'dismiss the dead letters of'));
      }
      settleHook(id);
    });
  }

  // stopText words why a replay call stopped: the receiver's refusal of
  // an event ("event evt-…: HTTP 503 …"), or the server's time for the
  // call running out.
  function stopText(e) {
    e = String(e).replace(/[.\s]+$/, '');
    var m = /^event (\S+): ([\s\S]*)$/.exec(e);
    if (m) return 'the receiver did not take event ' + m[1] + ' (' + m[2] + ')';
    return /^time ran out/.test(e) ? 'the server\'s time for a call ran out' : e;
  }

  function deliveredText(n) { return n ? n.toLocaleString('en-US') + ' delivered' : 'none delivered'; }

  // missingText says which dead letters a replay passed over, and why,
  // in words, a sentence per reason; they stay dead letters.
  function missingText(list) {
    var groups = {}, reasons = [];
    list.forEach(function (m) {
      var r = m.reason || 'no reason given';
      if (!groups[r]) { groups[r] = 0; reasons.push(r); }
      groups[r]++;
    });
    return reasons.map(function (r) {
      var n = groups[r], one = n === 1;
      var words = /^the stream no longer holds/.test(r) ? 'the stream no longer holds ' + (one ? 'its event' : 'their events') + ' (it keeps 7 days)'
        : /^dead-lettered before/.test(r) ? (one ? 'it was' : 'they were') + ' dead-lettered before stream sequences were kept: replay ' + (one ? 'it' : 'them') + ' by time (Replay…)'
          : /^the stream holds another event/.test(r) ? 'the stream holds another event at ' + (one ? 'its sequence' : 'their sequences') + ' (the stream was made anew)'
            : r.replace(/[.\s]+$/, '');
      return n.toLocaleString('en-US') + (one ? ' stays a dead letter, not sent: ' : ' stay dead letters, not sent: ') + words + '.';
    }).join(' ');
  }

  // Each webhook's newest attempts, merged newest first.
  function pollDeliveries(list) {
    return Promise.all(list.map(function (w) {
      return api('GET', '/v1/admin/webhooks/' + encodeURIComponent(w.id) + '/deliveries').then(function (r) {
        return (r.ok ? (r.data.deliveries || []) : []).slice(0, 10).map(function (d) { d.webhook = w.id; return d; });
      });
    })).then(function (lists) {
      // By time, not by text: RFC 3339 times drop trailing zeros, so
      // "…52.26Z" sorted after "…52.261Z" as a string.
      var all = [].concat.apply([], lists).sort(function (a, b) { return Date.parse(b.at) - Date.parse(a.at); });
      showDeliveries(all, 'No delivery attempts yet.');
    });
  }

  function showDeliveries(all, empty) {
    var body = $('deliveries').tBodies[0];
    body.textContent = '';
    if (!all.length) {
      var tr = document.createElement('tr');
      cell(tr, empty).colSpan = 7;
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
  }

  // --- a drop's reservations as a CSV file, for fulfilment -----------
  // The shop's staff download who won and who paid. The page reads every
  // page of GET /v1/admin/drops/{drop}/reservations (following
  // next_cursor until an answer has none: a page may be short, even
  // empty, before the last), keys the reservations by id (one may come
  // twice across pages), and only then makes the file: an error on any
  // page makes none, so a half list is never taken for the whole.
  var EXPORT_COLUMNS = ['reservation', 'user', 'quantity', 'status', 'won_at', 'expires_at', 'updated_at', 'from_waitlist'];
  var EXPORT_PAGE = 1000; // the most a page may hold: fewest requests
  var exportBusy = false;
  var exportOptions = ''; // the drop ids the select offers, in order

  // exportDrops offers the drops the table lists, in its order: the real
  // drops first, then the rehearsals under a group of their own. The
  // options are rebuilt only when that list changes, so a select open
  // under the pointer is not redrawn every second; the choice is kept.
  function exportDrops() {
    var real = [], rehearsals = [];
    listed.forEach(function (d) { (d.rehearsal ? rehearsals : real).push(d); });
    real.sort(byOrder);
    rehearsals.sort(byOrder);
    var ids = real.concat(rehearsals).map(function (d) { return d.id; });
    if (ids.join('\n') + '\n' + rehearsals.length === exportOptions) return;
    exportOptions = ids.join('\n') + '\n' + rehearsals.length;
    var sel = $('export-drop'), chosen = sel.value;
    sel.textContent = '';
    var option = function (parent, d) {
      var o = document.createElement('option');
      o.value = d.id;
      o.textContent = d.id;
      parent.appendChild(o);
    };
    real.forEach(function (d) { option(sel, d); });
    if (rehearsals.length) {
      var g = document.createElement('optgroup');
      g.label = 'Rehearsals';
      rehearsals.forEach(function (d) { option(g, d); });
      sel.appendChild(g);
    }
    if (!ids.length) {
      var none = document.createElement('option');
      none.value = '';
      none.textContent = 'No drops yet';
      sel.appendChild(none);
    }
    if (chosen && ids.indexOf(chosen) >= 0) sel.value = chosen;
  }

  // csvCell is one field as RFC 4180 has it, made safe to open in a
  // spreadsheet: a cell that begins with = + - @ (or a tab or CR) would
  // be run as a formula there (a shopper id is whatever the shop's
  // accounts allow, "=HYPERLINK(…)" included), so it gets a leading
  // apostrophe, which spreadsheets take as "text"; then a field with a
  // comma, a quote, CR or LF is quoted, its quotes doubled.
  function csvCell(v) {
    var s = v === undefined || v === null ? '' : String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function csvRow(cells) { return cells.map(csvCell).join(',') + '\r\n'; }

  // timeKey orders the API's RFC 3339 UTC times as text: the fraction is
  // written without trailing zeros ("09:30:01Z", "09:30:01.5Z"), so it is
  // padded to nanoseconds first ('Z' sorts after '.', and 01Z would come
  // after 01.5Z).
  function timeKey(t) {
    var m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(t || '');
    return m ? m[1] + '.' + ((m[2] || '') + '000000000').slice(0, 9) : String(t || '');
  }

  // csvOf is the file: a header row, then the reservations by won_at,
  // then id (a batch of wins shares its time). Times go as the API gives
  // them. share_code is left out: it is public and fulfilment has no use
  // for it.
  function csvOf(list) {
    list.sort(function (a, b) {
      var ka = timeKey(a.won_at), kb = timeKey(b.won_at);
      if (ka !== kb) return ka < kb ? -1 : 1;
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    return csvRow(EXPORT_COLUMNS) + list.map(function (r) {
      return csvRow([r.id, r.user, r.quantity, r.status, r.won_at, r.expires_at, r.updated_at, r.from_waitlist ? 'true' : 'false']);
    }).join('');
  }

  // download hands text to the browser as a file, through a Blob and a
  // link made for the purpose: nothing leaves the page, and no server
  // keeps a copy of a list that names shoppers.
  function download(name, text) {
    // A byte-order mark first: Excel reads a CSV without one in the
    // machine's legacy code page, and shoppers' ids may be any UTF-8.
    var url = URL.createObjectURL(new Blob(['\ufeff' + text], { type: 'text/csv;charset=utf-8' }));
    var a = document.createElement('a');
    a.href = url;
    a.download = name;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
    // The click starts the download; the URL is let go a little later.
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  function reservationsText(n) {
    return n.toLocaleString('en-US') + (n === 1 ? ' reservation' : ' reservations');
  }

  // exportBusyState disables the button while an export runs, and says
  // so to a screen reader (aria-busy).
  // A disabled button loses the keyboard's focus: it gets it back at the
  // end, unless the operator moved on meanwhile.
  var exportHadFocus = false;
  function exportBusyState(on) {
    exportBusy = on;
    var b = $('export-button');
    if (on) exportHadFocus = document.activeElement === b;
    b.disabled = on;
    if (on) b.setAttribute('aria-busy', 'true'); else b.removeAttribute('aria-busy');
    if (!on && exportHadFocus && (!document.activeElement || document.activeElement === document.body)) b.focus();
  }

  $('export-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if (exportBusy) return;
    var msg = $('export-message');
    var drop = $('export-drop').value;
    var statuses = [];
    each(this.querySelectorAll('input[name="status"]:checked'), function (el) { statuses.push(el.value); });
    if (!drop) { setText(msg, 'Choose a drop.'); return; }
    if (!statuses.length) { setText(msg, 'Choose at least one status to include.'); return; }
    var mine = token; // a sign-out (or another token) meanwhile ends it, quietly
    var byId = {}, count = 0;
    var base = '/v1/admin/drops/' + encodeURIComponent(drop) + '/reservations?status=' + statuses.join(',') + '&limit=' + EXPORT_PAGE;
    exportBusyState(true);
    setText(msg, 'Reading reservations…');
    var page = function (cursor) {
      return api('GET', base + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '')).then(function (r) {
        if (token !== mine) return null;
        if (rejected(r)) return null;
        if (!r.ok) {
          // The page's own sentence for the problem, with the server's
          // detail where it gave one (the scope a key lacks).
          var s = sentence(r.data);
          if (r.data.detail) s = s.replace(/\.$/, '') + ': ' + r.data.detail + '.';
          setText(msg, s + ' No file was made.');
          return null;
        }
        (r.data.reservations || []).forEach(function (x) {
          if (!byId[x.id]) count++;
          byId[x.id] = x; // the later read of one listed twice
        });
        setText(msg, 'Read ' + reservationsText(count) + '…');
        return r.data.next_cursor ? page(r.data.next_cursor) : byId;
      });
    };
    page('').then(function (all) {
      if (!all) return;
      var list = Object.keys(all).map(function (id) { return all[id]; });
      var name = drop + '-reservations.csv';
      download(name, csvOf(list));
      setText(msg, list.length ? 'Downloaded ' + reservationsText(list.length) + ' as ' + name + '.' : 'No reservations match.');
    }).then(function () { exportBusyState(false); }, function () {
      setText(msg, sentences.internal + ' No file was made.');
      exportBusyState(false);
    });
  });

  // --- forms: checked in the page, then the API's errors next to fields
  function utc(v) { return v ? new Date(v + (v.length === 16 ? ':00' : '') + 'Z').toISOString() : undefined; }
  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  // errorFor is the error element beside a field, named by the API's
  // field name (data-for), or next to the input's label.
  function errorFor(f, apiName) { return f.querySelector('.error[data-for="' + apiName + '"]'); }
  function inputFor(f, apiName) {
    var err = errorFor(f, apiName);
    var label = err && err.previousElementSibling;
    return (label && label.querySelector('input, select')) || null;
  }

  // labelOf is a field's label as words in a sentence ("registration
  // closes"): its own text, without the notes in brackets or the mark of
  // a required field.
  function labelOf(f, apiName) {
    var err = errorFor(f, apiName);
    var label = err && err.previousElementSibling;
    if (!label) return null;
    var t = '';
    each(label.childNodes, function (n) { if (n.nodeType === 3) t += n.nodeValue; });
    t = t.replace(/\([^)]*\)/g, '').replace(/\s+/g, ' ').trim();
    return t ? t.charAt(0).toLowerCase() + t.slice(1) : null;
  }

  // friendly turns the API's detail ("sale_starts_at must not be before
  // registration_closes_at") into a sentence for beside the field ("Must
  // not be before registration closes."): the field itself is not named
  // again, and other fields go by their labels. Quoted values stay as
  // they are.
  function friendly(f, field, detail) {
    var t = String(detail || '');
    if (field && t.indexOf(field + ' ') === 0) t = t.slice(field.length + 1);
    if (t === 'is required') return 'Required.';
    t = t.split('"').map(function (part, i) {
      return i % 2 ? part : part.replace(/\b[a-z]+(?:_[a-z]+)+\b/g, function (name) { return labelOf(f, name) || name.replace(/_/g, ' '); });
    }).join('"');
    t = capital(t);
    return /[.!?]$/.test(t) ? t : t + '.';
  }

  function mark(f, input, err, text) {
    if (err) err.textContent = text;
    if (input) input.setAttribute('aria-invalid', 'true');
  }
  function marked(n) { return n > 1 ? 'Check the ' + n + ' marked fields.' : 'Check the marked field.'; }

  function form(id, path, build, done) {
    var f = $(id);
    // A field changed is no longer the one refused: its mark goes.
    f.addEventListener('input', function (e) {
      var el = e.target, label = el.closest && el.closest('label');
      if (!el.getAttribute || !el.getAttribute('aria-invalid')) return;
      el.removeAttribute('aria-invalid');
      if (label && label.nextElementSibling && label.nextElementSibling.matches('.error')) label.nextElementSibling.textContent = '';
    });
    f.addEventListener('submit', function (e) {
      e.preventDefault();
      each(f.querySelectorAll('.error'), function (el) { el.textContent = ''; });
      each(f.elements, function (el) { if (el.removeAttribute) el.removeAttribute('aria-invalid'); });
      var msg = f.querySelector('.form-message');
      msg.textContent = '';
      // The browser's own checks first (required, numbers, ranges), every
      // field at once: one submit shows all that is missing, and nothing
      // is sent until it is there.
      if (!f.checkValidity()) {
        var bad = Array.prototype.filter.call(f.elements, function (el) { return el.willValidate && !el.validity.valid; });
        bad.forEach(function (el) {
          var label = el.closest('label');
          mark(f, el, label && label.nextElementSibling, el.validationMessage);
        });
        msg.textContent = marked(bad.length);
        f.reportValidity(); // the first one gets the focus, and the browser's bubble
        return;
      }
      var body = build(f.elements);
      Object.keys(body).forEach(function (k) { if (body[k] === undefined || body[k] === '') delete body[k]; });
      api('POST', path, body).then(function (r) {
        if (rejected(r)) return;
        if (r.ok) { msg.textContent = done(r.data); f.reset(); pollDrops(); return; }
        if (r.status === 404 && r.data.code === 'not_found') { msg.textContent = 'This server has no such API yet.'; return; }
        var fields = r.data.fields || (r.data.field ? [r.data.field] : []);
        var shown = 0, first = null;
        fields.forEach(function (name) {
          var err = errorFor(f, name), input = inputFor(f, name);
          if (!err) return;
          shown++;
          mark(f, input, err, r.data.field === name && r.data.detail ? friendly(f, name, r.data.detail) : 'Differs from the stored one.');
          first = first || input;
        });
        if (first) first.focus();
        // A field this form does not have (one the API sets by default),
        // or no field at all: the sentence says it all.
        if (!shown) msg.textContent = sentence(r.data) === sentences.invalid
          ? 'The server refused it: ' + friendly(f, r.data.field, r.data.detail || r.data.title)
          : sentence(r.data) + (r.data.detail ? ' ' + friendly(f, r.data.field, r.data.detail) : '');
        else msg.textContent = r.data.code === 'invalid' ? marked(shown) : sentence(r.data);
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

  // The series' registration lead is typed in hours; the API takes
  // seconds.
  form('series-form', '/v1/admin/series', function (e) {
    var hours = num(e.registration_opens_before_hours.value);
    return {
      id: e.id.value, name: e.name.value, product: e.product.value, stock: num(e.stock.value),
      per_user_limit: num(e.per_user_limit.value), weekday: num(e.weekday.value), sale_time: e.sale_time.value,
      time_zone: e.time_zone.value.trim(),
      registration_opens_before_seconds: hours === undefined ? undefined : Math.round(hours * 3600),
      mode: e.mode.value
    };
  }, function (d) { return 'Created series ' + d.id + '.'; });

  // The time zones this browser knows, offered as the field is typed in
  // (the server checks the name against its own list).
  (function () {
    var zones = [];
    try { if (Intl.supportedValuesOf) zones = Intl.supportedValuesOf('timeZone').slice(); } catch (e) { zones = []; }
    if (zones.length && zones.indexOf('UTC') < 0) zones.push('UTC');
    var list = $('time-zones');
    zones.forEach(function (z) { var o = document.createElement('option'); o.value = z; list.appendChild(o); });
  })();

  signedIn(!!token);
})();
