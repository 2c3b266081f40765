// flashdrop shopper pages: the drop page's behaviour, on the public JSON
// API only. Plain JavaScript, no dependencies, nothing from another host.
'use strict';

(function () {
  // Server time: the page was made at body[data-now] by the engine's
  // clock; every live event carries the clock again. Countdowns use it,
  // never the device's clock alone.
  var offset = Date.parse(document.body.dataset.now) - Date.now();
  function now() { return Date.now() + offset; }

  // Times in the page are written in UTC by the server; show them in the
  // reader's own zone.
  Array.prototype.forEach.call(document.querySelectorAll('time[datetime]'), function (el) {
    var t = new Date(el.getAttribute('datetime'));
    if (!isNaN(t)) {
      // With the zone's name: a weekly drop set in the shop's zone would
      // otherwise read as a bare hour in the reader's.
      el.textContent = t.toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
    }
  });

  var root = document.getElementById('drop');
  if (!root) return;
  var dropID = root.dataset.drop;
  var $ = function (id) { return document.getElementById(id); };

  // The shopper's token arrives in the URL fragment (never sent to any
  // server, never in a log), is kept for this tab, and leaves the address
  // bar at once, so a copied link never carries it.
  var token = sessionStorage.getItem('flashdrop.token') || '';
  // takeToken takes a token from the fragment, at load and when the
  // fragment changes (a shop that signs her in on this very page), and
  // says whether there was one.
  function takeToken() {
    var frag = new URLSearchParams(location.hash.replace(/^#/, ''));
    if (!frag.get('token')) return false;
    token = frag.get('token');
    sessionStorage.setItem('flashdrop.token', token);
    sessionStorage.removeItem('flashdrop.signedout');
    // A new sign-in may be another shopper's: what the last one had
    // registered for is not hers.
    Object.keys(sessionStorage).forEach(function (k) { if (k.indexOf('flashdrop.registered.') === 0) sessionStorage.removeItem(k); });
    history.replaceState(null, '', location.pathname + location.search);
    return true;
  }
  takeToken();
  // signedOut: the server refused this tab's token (it ran out), kept for
  // the tab so a reload still says why rather than "only registered
  // shoppers"; registeredKey remembers that she had registered for this
  // drop, which a signed-out view cannot tell.
  var signedOut = !token && sessionStorage.getItem('flashdrop.signedout') === '1';
  var registeredKey = 'flashdrop.registered.' + dropID;
  // How many she joined the waitlist for, to tell a partial promotion.
  var waitKey = 'flashdrop.waitfor.' + dropID;

  // The token's exp, read from its payload (the holder may read her own
  // token; nothing here trusts it, the server still decides): the page
  // warns before the sign-in runs out instead of finding out at T0.
  function expOf(t) {
    try {
      var part = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      while (part.length % 4) part += '=';
      var exp = JSON.parse(atob(part)).exp;
      return typeof exp === 'number' ? exp * 1000 : 0;
    } catch (e) {
      return 0;
    }
  }
  var tokenExp = token ? expOf(token) : 0;
  window.addEventListener('hashchange', function () {
    if (!takeToken()) return;
    // Her view is asked again with the new token; nothing of the last
    // one's stays.
    tokenExp = expOf(token);
    signedOut = false;
    me = null;
    if (view) view.me = null;
    refresh();
  });
  // The server judges exp by its own wall clock, not by the engine's
  // clock the countdowns use (that may be Redis's, --clock): the Date
  // header of its answers tells the wall clock's offset from the device's.
  var wallOffset = offset;

  // The shop's sign-in page (serve's --sign-in-url), a template whose
  // {url} is this page's address: with its ?ref=, never its fragment.
  var signinURL = root.dataset.signin || '';
  function signinHref() {
    return signinURL.split('{url}').join(encodeURIComponent(location.origin + location.pathname + location.search));
  }

  // A friend from a share card arrives with ?ref=, often signed out; she
  // registers later, maybe in another tab opened from the shop's link
  // without it. The ref is kept per drop for a week and sent when she
  // registers.
  var refKey = 'flashdrop.ref.' + dropID;
  var refTTL = 7 * 24 * 3600 * 1000;
  var ref = new URLSearchParams(location.search).get('ref') || '';
  try {
    if (ref) {
      localStorage.setItem(refKey, JSON.stringify({ code: ref, until: Date.now() + refTTL }));
    } else {
      var kept = JSON.parse(localStorage.getItem(refKey) || 'null');
      if (kept && kept.until > Date.now() && typeof kept.code === 'string') ref = kept.code;
      else localStorage.removeItem(refKey);
    }
  } catch (e) { /* storage refused (private mode): the URL's ref only */ }

  // Every problem code of the API as a sentence for a person.
  var sentences = {
    sold_out: 'Sold out: every unit is taken right now.',
    not_registered: 'Only shoppers who registered before the sale can buy, and you did not register for this drop.',
    sale_not_open: 'The sale has not started yet.',
    sale_closed: 'The sale has ended.',
    sale_paused: 'The shop has paused the sale for a moment. Stay here: it resumes by itself.',
    limit_reached: 'You already have as many as one shopper may get from this drop.',
    registration_not_open: 'Registration has not opened yet.',
    registration_closed: 'Registration for this drop has closed.',
    not_found: 'This drop does not exist (any more).',
    unauthorized: 'Your sign-in has run out. Open this page again from the shop’s link.',
    forbidden: 'That is not something you can do here.',
    invalid: 'Something in that request was not right.',
    idempotency_mismatch: 'That press was already used for another request. Press again.',
    rate_limited: 'That was a lot of presses. Wait a second, then try again.',
    unavailable: 'The shop is very busy. Try again in a moment.',
    internal: 'Something went wrong on our side. Try again in a moment.',
    expired: 'Your hold ran out and the unit was released.',
    cancelled: 'This reservation was cancelled.',
    confirmed: 'This reservation is already confirmed.',
    network: 'No connection to the shop. Check your connection and try again.'
  };
  var stateText = {
    // The countdown says when: "soon" beside "opens in 0:17" said it twice.
    scheduled: 'Registration is not open yet',
    registration_open: 'Registration is open',
    registration_closed: 'Registration has closed; the sale starts soon',
    sale_open: 'On sale now',
    sold_out: 'Sold out',
    sale_closed: 'The sale has ended'
  };

  var view = null; // GET /v1/drops/{drop}
  var shownAvail = null; // {value, until}: the stock shown after her win
  // floored is available, held down to what her win left while a view or
  // event from before it may still come (shownAvail).
  function floored(available) {
    return shownAvail && Date.now() < shownAvail.until ? Math.min(available, shownAvail.value) : available;
  }
  var me = null; // view.me
  var busy = false;

  // A message that only says the shop could not be reached for the view
  // (transient) goes by itself at the next view or live event that
  // comes through: left there, "No connection" stood beside a confirmed
  // order minutes after the connection was back.
  function say(text, bad, transient) {
    var m = $('message');
    var base = text || '';
    // The same problem again for a press of hers (Buy pressed again while
    // the shop is still out of reach or busy): it says the press was tried
    // again, and when, where the same sentence stood still and a screen
    // reader, hearing no change, said nothing.
    // (act keeps the problem its press cleared in data-again.)
    if (base && bad && !transient && m.dataset.again === base) {
      text = base + ' Tried again at ' + new Date(now()).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' }) + '.';
    }
    m.dataset.again = '';
    m.dataset.base = base;
    m.textContent = text || '';
    m.className = bad ? 'message bad' : 'message';
    m.dataset.transient = transient ? '1' : '';
  }
  function sayProblem(p, transient) {
    var s = sentences[p.code] || sentences.internal;
    if (p.code === 'forbidden' && p.detail) s = 'Not here: ' + p.detail + '.';
    if (p.code === 'invalid' && p.detail) s = sentences.invalid + ' (' + p.detail + ')';
    say(s, true, transient);
  }
  var unreachable = { network: true, unavailable: true, internal: true, rate_limited: true };
  function reached() {
    if ($('message').dataset.transient) say('');
  }

  function api(method, path, body, headers) {
    var h = { 'Accept': 'application/json' };
    if (token) h.Authorization = 'Bearer ' + token;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    // A request the server does not answer in 20 s is given up (an
    // unknown outcome, as a broken connection): a page waiting on it
    // forever would keep the shopper's button busy.
    var abort = window.AbortController ? new AbortController() : null;
    var timer = abort && setTimeout(function () { abort.abort(); }, 20000);
    return fetch(path, { method: method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', signal: abort ? abort.signal : undefined })
      .then(function (resp) {
        var date = Date.parse(resp.headers.get('Date') || '');
        if (!isNaN(date)) wallOffset = date - Date.now();
        // The timer stands until the body is read: a body that stalls is
        // given up too (the abort fails its read).
        return resp.json().catch(function () { return {}; }).then(function (data) {
          clearTimeout(timer);
          if (abort && abort.signal.aborted) return { ok: false, status: 0, data: { code: 'network' } };
          return { ok: resp.ok, status: resp.status, data: data };
        });
      }, function () {
        clearTimeout(timer);
        return { ok: false, status: 0, data: { code: 'network' } };
      });
  }

  // Releases (cancelled or expired holds) are what moves a waitlist. The
  // live stream counts them (released); a waiting shopper's page asks for
  // her own view when that count moved since it last asked, at most every
  // 2 s, and every 30 s otherwise. With no count from the stream (no
  // EventSource, or the stream refused or broken) it asks every 3–5 s.
  var released = null; // the live stream's count, null when unknown
  var askedAt = 0, askedReleased = null;
  // Answers can come back out of order (a slow poll overtaken by a press):
  // each request is numbered, and an answer older than what the page
  // already shows is dropped, or a late poll could take back a win the
  // press had just shown. inflight lets the poller wait for the last one.
  var asked = 0, applied = 0, inflight = 0;
  var gone = false; // the drop no longer exists: stop asking

  function refresh() {
    askedAt = Date.now();
    askedReleased = released;
    var n = ++asked;
    inflight++;
    return api('GET', '/v1/drops/' + encodeURIComponent(dropID)).then(function (r) {
      inflight--;
      if (n < applied) return;
      if (!r.ok) {
        if (r.data.code === 'unauthorized' && token) {
          // Signed out: show the drop as anyone sees it rather than a
          // page half drawn; the sign-in note says why and, to one who
          // registered, that she still is (not "only registered shoppers
          // can take part").
          token = '';
          tokenExp = 0;
          signedOut = true;
          sessionStorage.removeItem('flashdrop.token');
          sessionStorage.setItem('flashdrop.signedout', '1');
          if ($('message').textContent === sentences.unauthorized) say('');
          return refresh();
        }
        sayProblem(r.data, !!unreachable[r.data.code]);
        if (r.status === 404) showGone();
        return;
      }
      applied = n;
      reached();
      view = r.data;
      if (view.me && view.me.registered) sessionStorage.setItem(registeredKey, '1');
      // A view read a moment before the shopper's own win may still count
      // the unit she took (the server's views are up to a second old): for
      // a moment the stock shown does not go back above what her win left.
      view.available = floored(view.available);
      me = view.me || null;
      // A press whose outcome was unknown is known once the view shows
      // a hold or a waitlist place: the next press is a new one.
      if (pending && me && (me.waitlist_position || (me.reservation && me.reservation.status !== 'expired' && me.reservation.status !== 'cancelled'))) {
        pending = null;
        // Its outcome is on the page now: "try again" no longer applies.
        if (/^(No connection|The shop is very busy|Something went wrong)/.test($('message').textContent)) say('');
      }
      render();
    });
  }

  // showGone draws a drop that no longer exists as closed: no countdown,
  // no stock, nothing to press; and the page stops asking.
  function showGone() {
    gone = true;
    view = null;
    me = null;
    $('state').textContent = 'This drop no longer exists';
    $('countdown').textContent = '';
    ['register', 'signin-link', 'qty', 'buy', 'join', 'calendar-link', 'stock', 'registered', 'signin', 'signin-note',
      'closed-note', 'outsider', 'paused', 'hold', 'confirmed', 'waitlist', 'share'].forEach(function (id) { show(id, false); });
  }

  function clock(ms) {
    if (ms < 0) ms = 0;
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    s = s % 60;
    var pad = function (n) { return (n < 10 ? '0' : '') + n; };
    if (d > 0) return d + 'd ' + h + 'h ' + pad(m) + 'm';
    if (h > 0) return h + ':' + pad(m) + ':' + pad(s);
    return m + ':' + pad(s);
  }

  function show(id, on) { $(id).hidden = !on; }

  // The drop's state as of now: the server's, moved on at the sale's
  // start by the page's own (server-synced) clock, so that Buy turns on
  // at T0 even when no live event comes (the stream refused, or late)
  // and without every page asking the server at once. The server still
  // decides every press.
  function stateNow() {
    var st = view.state, t = now();
    if ((st === 'scheduled' || st === 'registration_open' || st === 'registration_closed') &&
        t >= Date.parse(view.sale_starts_at)) return 'sale_open';
    // Registration's times by the same clock: its countdowns end in the
    // state they count down to.
    if (st === 'scheduled' && t >= Date.parse(view.registration_opens_at)) st = 'registration_open';
    if (st === 'registration_open' && t >= Date.parse(view.registration_closes_at)) st = 'registration_closed';
    return st;
  }

  // What the shopper was told last, so that a change of her own view is
  // said once: her hold ran out, or the waitlist gave her one.
  var told = { res: '', status: '' };
  var rendered = false; // the page's first view is drawn
  var title = document.title;

  function render() {
    if (!view) return;
    var state = stateNow();
    var draw = view.mode === 'draw';
    var res = me && me.reservation;
    var held = res && res.status === 'held';
    var confirmed = res && res.status === 'confirmed';
    var registered = !!(me && me.registered);
    var waiting = !!(me && me.waitlist_position);
    // A signed-in shopper who did not register can no longer: say so
    // instead of offering a Buy that can only fail.
    var outsider = !!token && !!me && !registered && !res &&
      (state === 'registration_closed' || state === 'sale_open' || state === 'sold_out');

    if (res && !told.res && res.status === 'expired' && (state === 'sale_open' || state === 'sold_out')) say(sentences.expired, true);
    if (res && (res.id !== told.res || res.status !== told.status)) {
      if (res.id === told.res && told.status === 'held' && res.status === 'expired') say(sentences.expired, true);
      // Her own Confirm says so itself (settle marks it told).
      if (res.id === told.res && told.status === 'held' && res.status === 'confirmed') say('The shop confirmed your order.');
      if (res.id !== told.res && res.status === 'held' && told.waiting) {
        // A promotion of fewer than she waited for ends her place in
        // line too: say so, or she waits for the rest in vain.
        var waited = Number(sessionStorage.getItem(waitKey)) || 0;
        var rest = waited - (res.quantity || 1);
        say((res.quantity > 1 ? res.quantity + ' units came free: they’re yours now, held for you.' : 'A unit came free: it’s yours now, held for you.') +
          (rest > 0 ? ' You waited for ' + waited + ': you are off the waitlist now, so the other ' + (rest === 1 ? 'one' : rest) + ' will not come to you.' : ''));
      }
    }
    // A hold that arrives while the page is open (the draw, a promotion,
    // her own press) takes the focus once it shows: a screen reader reads
    // "You got one!" and the keyboard is at Pay or Confirm.
    var newHold = rendered && !!res && res.id !== told.res && res.status === 'held';
    if (!waiting && !(res && res.status === 'held')) sessionStorage.removeItem(waitKey);
    told.res = res ? res.id : '';
    told.status = res ? res.status : '';
    told.waiting = waiting;

    // In a draw the sale's start is the draw: after it, "sold out" would
    // tell a winner her draw went wrong.
    var text = stateText[state] || state;
    if (draw && state === 'registration_closed') text = 'Registration has closed; the draw comes next';
    if (draw && (state === 'sale_open' || state === 'sold_out')) text = 'The draw has been made';
    // "Sold out" above her own win read as if she had lost it.
    if (!draw && state === 'sold_out' && (held || confirmed)) text = 'Sold out, and yours is ' + (held ? 'held for you' : 'confirmed');
    $('state').textContent = view.paused ? 'Paused' : text;
    // 100,000 reads as a number; 100000 does not (the page is in English).
    $('available').textContent = view.available.toLocaleString('en');
    // Once the sale is over, what was left says nothing; once she holds,
    // it is what is left for the others.
    show('stock', state !== 'sale_closed');
    show('stock-others', !!(held || confirmed));
    $('stock').classList.toggle('quiet', !!(held || confirmed));
    show('paused', view.paused);

    // Draw mode: the committed seed hash before, the result after.
    show('draw', draw);
    if (draw) {
      show('seed', !!view.seed_hash);
      $('seed-hash').textContent = view.seed_hash || '';
      if (state === 'sale_open' || state === 'sold_out' || state === 'sale_closed') loadDraw();
      show('ticket', !!(me && me.ticket));
      $('ticket-id').textContent = (me && me.ticket) || '';
    }

    var canRegister = state === 'registration_open' || state === 'scheduled';
    show('register', !!token && !registered && canRegister);
    $('register').disabled = state !== 'registration_open';
    // Not signed in (a friend from a share card lands here so): with the
    // shop's sign-in page, a button to it that says what it is for; without
    // one, where to sign in. Never a Buy that cannot work.
    var offerSignin = !!signinURL && (!token || tokenRanOut()) && state !== 'sale_closed';
    show('signin-link', offerSignin);
    if (offerSignin) {
      $('signin-link').href = signinHref();
      var why = canRegister ? 'Sign in to register' : draw ? 'Sign in to see your result' :
        state === 'sold_out' ? 'Sign in to join the waitlist' : 'Sign in to buy';
      if ($('signin-link').textContent !== why) $('signin-link').textContent = why;
    }
    show('signin', !signinURL && !token && !signedOut && canRegister);
    show('closed-note', !token && !signedOut && !canRegister && state !== 'sale_closed');
    // The calendar is for the time before the sale.
    show('calendar-link', canRegister || state === 'registration_closed');
    show('registered', registered && !res && !waiting && (canRegister || state === 'registration_closed') && !tokenRanOut());
    show('outsider', outsider);
    if ((outsider || !$('closed-note').hidden) && view.series) loadNext();
    signinNote(state);

    var saleOpen = state === 'sale_open' && !view.paused;
    var beforeSale = state === 'scheduled' || state === 'registration_open' || state === 'registration_closed';
    show('buy', !draw && !outsider && !held && !confirmed && !waiting && (beforeSale || state === 'sale_open') && !!token);
    $('buy').disabled = !saleOpen || !token || busy;
    show('join', !draw && !!token && registered && !held && !confirmed && !waiting && state === 'sold_out' && !view.paused);
    // What she may still get: the units of all her reservations count (an
    // older confirmed one, made elsewhere, still does after a newer one is
    // cancelled), and a press past the limit could only be refused.
    var allowance = (view.per_user_limit || 1) - ((me && me.units) || 0);
    // A drop that allows more than one per shopper lets her choose how
    // many, up to her allowance and to what is left (asking for more than
    // is left would be answered sold_out while units remain).
    var most = Math.min(Math.max(allowance, 1), 10, view.available > 0 ? view.available : view.per_user_limit || 1);
    show('qty', most > 1 && (!$('buy').hidden || !$('join').hidden));
    // Not while its list is open: rebuilding it would close the list.
    if ($('quantity').options.length !== most && document.activeElement !== $('quantity')) {
      // Her choice (wanted) comes back when units do (a restock).
      var picked = Math.min(wanted || 1, Math.max(most, 1));
      $('quantity').textContent = '';
      for (var q = 1; q <= Math.max(most, 1); q++) {
        var o = document.createElement('option');
        o.value = String(q);
        o.textContent = String(q);
        $('quantity').appendChild(o);
      }
      $('quantity').value = String(picked);
    }
    // She can choose before T0; Buy decides when to press.
    $('quantity').disabled = busy || !token;

    show('hold', !!held);
    show('confirmed', !!confirmed);
    if (held) {
      $('hold-title').textContent = res.quantity > 1 ? 'You got ' + res.quantity + '!' : 'You got one!';
      // The deadline as a time too, in the reader's zone, on the same
      // clock as every time on the page: one who leaves it knows until when.
      $('hold-until').textContent = ', until ' + hhmm(Date.parse(res.expires_at)) + ', your time';
      var pay = view.checkout_url ? view.checkout_url.split('{reservation}').join(encodeURIComponent(res.id)) : '';
      show('checkout', !!pay && view.confirm_by !== 'shopper');
      if (pay) $('checkout').href = pay;
      show('confirm', view.confirm_by === 'shopper');
      // Confirmed by the shop, with no checkout page to send her to: tell
      // her what happens next rather than leave her with Cancel alone.
      show('pay-note', !pay && view.confirm_by !== 'shopper');
    } else {
      cancelArmed(false);
    }
    // The tab's title says it too: a shopper in another tab sees her win.
    var newTitle = held ? $('hold-title').textContent + ' · ' + title : title;
    if (document.title !== newTitle) document.title = newTitle;
    show('waitlist', waiting && !held);
    if (waiting) $('position').textContent = me.waitlist_position;
    // Sold out, the sale's "Ends in" countdown is gone: one who waits
    // still learns until when a unit can come to her.
    if (waiting && view.sale_ends_at) $('waitlist-until').textContent = ' The waitlist runs until the sale ends, ' + dayTime(Date.parse(view.sale_ends_at)) + ', your time.';
    if (me && me.waitlist_ended && !res) say('The sale has ended before a unit came free for you. Thank you for waiting.');

    // A rehearsal's win has no card (the server answers 404 for it).
    show('share', !!(res && res.share_code && (held || confirmed) && !view.rehearsal));
    if (res && res.share_code) $('share-url').value = location.origin + '/s/' + res.share_code;
    if (newHold) $('hold-title').focus();
    rendered = true;
    tick();
  }

  // The sign-in's time left by the server's wall clock, which judges it
  // (Infinity when the token tells none).
  function tokenLeft() {
    return token && tokenExp ? tokenExp - (Date.now() + wallOffset) : Infinity;
  }
  function tokenRanOut() { return tokenLeft() <= 0; }
  function hhmm(ms) {
    return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  }
  // dayTime is "at 10:00" within 12 hours (by the engine's clock), else
  // with the day ("on Tue 8 Dec at 10:00"): a sale that ends tomorrow is
  // not "at 10:00" today.
  function dayTime(ms) {
    if (ms - now() < 12 * 3600 * 1000) return 'at ' + hhmm(ms);
    return 'on ' + new Date(ms).toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' }) + ' at ' + hhmm(ms);
  }
  // signinNote warns in good time that her sign-in runs out before the
  // sale (or within 10 minutes), says at once when it has, and tells one
  // the server signed out that she is still registered: she registered,
  // and "only registered shoppers can take part" told her otherwise.
  function signinNote(state) {
    var text = '';
    // With the shop's sign-in page (--sign-in-url) she signs in there (its
    // button shows once the sign-in has run out); without one, the shop's
    // link to this page signs her in.
    var again = signinURL ? 'sign in again at the shop' : 'open this page again from the shop’s link';
    var wasRegistered = !!(me && me.registered) || sessionStorage.getItem(registeredKey) === '1';
    var left = tokenLeft();
    if (signedOut || left <= 0) {
      text = wasRegistered ? 'Your sign-in has run out, but you are still registered: ' + again + ' to sign in and take part.'
        : 'Your sign-in has run out: ' + again + ' to sign in.';
    } else if (left !== Infinity && view && state !== 'sale_closed') {
      // When it runs out, on the page's clock (the engine's), which the
      // sale's time is on too.
      var at = now() + left;
      var before = (state === 'scheduled' || state === 'registration_open' || state === 'registration_closed') &&
        at < Date.parse(view.sale_starts_at);
      if (before) text = 'Your sign-in runs out at ' + hhmm(at) + ', before the ' + (view.mode === 'draw' ? 'draw' : 'sale') + ': ' + again + ' before then.';
      else if (left < 10 * 60 * 1000) text = 'Your sign-in runs out at ' + hhmm(at) + ': ' + again + ' before then.';
    }
    if ($('signin-note').textContent !== text) $('signin-note').textContent = text;
    show('signin-note', text !== '');
  }

  // The series' next drop, for a shopper who missed this one: asked
  // without her token (a public route; a token run out would spoil it),
  // and again every 5 s, later every 30 s, until it exists (the series makes it when this
  // drop's registration closes, a moment after the page may ask).
  var nextAsked = false, nextTries = 0;
  function loadNext() {
    if (nextAsked) return;
    nextAsked = true;
    var again = function () {
      nextTries++;
      if (nextTries < 30) setTimeout(function () { nextAsked = false; if (view) render(); }, nextTries < 6 ? 5000 : 30000);
    };
    fetch('/v1/series/' + encodeURIComponent(view.series), { headers: { 'Accept': 'application/json' }, cache: 'no-store' })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (sr) {
        var next = sr && sr.next_drop;
        if (!next || !next.created || next.id === dropID || Date.parse(next.registration_closes_at) <= now()) { again(); return; }
        Array.prototype.forEach.call(document.querySelectorAll('.next-link'), function (a) {
          a.href = '/d/' + encodeURIComponent(next.id);
          a.hidden = false;
        });
        Array.prototype.forEach.call(document.querySelectorAll('.next-none'), function (el) { el.hidden = true; });
      }, again);
  }

  // A draw's public record, once drawn: a page open through the draw
  // shows the same account as one loaded after it (the server draws that
  // one into the page). Asked again every 3 s until the record says
  // drawn (the draw runs a moment after T0).
  var drawState = $('drawn-proof').hidden ? '' : 'shown';
  function loadDraw() {
    if (drawState) return;
    drawState = 'asking';
    fetch('/v1/drops/' + encodeURIComponent(dropID) + '/draw?limit=1', { headers: { 'Accept': 'application/json' }, cache: 'no-store' })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (rec) {
        if (rec && rec.state === 'drawn') { drawState = 'shown'; showDraw(rec); return; }
        setTimeout(function () { drawState = ''; if (view) render(); }, 3000);
      }, function () { setTimeout(function () { drawState = ''; if (view) render(); }, 3000); });
  }
  function el(tag, text) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function showDraw(rec) {
    var p = $('drawn');
    p.textContent = 'The draw is done: ';
    p.appendChild(el('strong', String(rec.winners)));
    p.appendChild(document.createTextNode(' ' + (rec.winners === 1 ? 'winner' : 'winners') + ' among ' + rec.registrants + ' registered' +
      (rec.registrants > rec.winners ? '; everyone else is on the waitlist, in the drawn order' : '') + '.'));
    // A draw that finished after the sale closed (every node down through
    // it) gave no holds past the close: the count alone would promise them.
    var unheld = typeof rec.holds_given === 'number' && rec.holds_given < rec.winners ? rec.winners - rec.holds_given : 0;
    if (unheld) {
      p.appendChild(document.createTextNode(' The sale had closed before the draw finished, so ' +
        (unheld === rec.winners ? 'no winner got a hold' : unheld + ' of them got no hold') + ', and nobody was put on the waitlist after it closed: the order still stands, and verifies.'));
    }
    p.hidden = false;
    // The seed line's opening words, before the hash's <code>.
    $('seed').firstChild.textContent = 'The draw was committed in advance. Seed hash: ';
    var proof = $('drawn-proof');
    proof.textContent = '';
    var a = el('p', 'Its seed, revealed now: ');
    a.appendChild(el('code', rec.seed));
    a.appendChild(document.createTextNode('. Its SHA-256 is the hash above, published before registration closed, so the order could not be chosen after seeing who registered.'));
    var b = el('p');
    var link = el('a', 'The public record');
    link.href = '/v1/drops/' + encodeURIComponent(dropID) + '/draw';
    b.appendChild(link);
    b.appendChild(document.createTextNode(' lists every ticket in the drawn order, yours among them, and '));
    b.appendChild(el('code', 'flashdrop verify-draw --target ' + proof.dataset.target + ' --drop ' + dropID));
    b.appendChild(document.createTextNode(' recomputes the whole draw from it.'));
    proof.appendChild(a);
    proof.appendChild(b);
    proof.hidden = false;
  }

  // tick redraws the countdowns; it runs every quarter second.
  function tick() {
    if (!view) return;
    var state = stateNow();
    if (state !== tick.state) {
      // The sale started by the page's clock: redraw Buy and the rest.
      tick.state = state;
      render();
      return;
    }
    var target = null, label = '';
    if (state === 'scheduled') { target = Date.parse(view.registration_opens_at); label = 'Registration opens in '; }
    else if (state === 'registration_open' || state === 'registration_closed') { target = Date.parse(view.sale_starts_at); label = view.mode === 'draw' ? 'The draw is in ' : 'Sale starts in '; }
    // Not registered yet, with registration closing before the sale: the
    // time that matters to her is the close ("the draw is in 2:14" with 14 s
    // left to register misled).
    if (state === 'registration_open' && !(me && me.registered) && Date.parse(view.registration_closes_at) < Date.parse(view.sale_starts_at)) {
      target = Date.parse(view.registration_closes_at);
      label = 'Registration closes in ';
    }
    var cd = $('countdown');
    if (target !== null) {
      var left = target - now();
      // The close passed, the state not yet moved (the next view or event
      // moves it): no "Starting…" for a sale minutes away.
      if (left <= 0 && label === 'Registration closes in ') cd.textContent = 'Registration has closed';
      else cd.textContent = left > 0 ? label + clock(left) : 'Starting…';
    } else if (state === 'sale_open' && view.sale_ends_at) {
      cd.textContent = 'Ends in ' + clock(Date.parse(view.sale_ends_at) - now());
    } else {
      cd.textContent = '';
    }
    var res = me && me.reservation;
    if (res && res.status === 'held') {
      var hl = Date.parse(res.expires_at) - now();
      $('hold-left').textContent = clock(hl);
      if (hl <= 0 && !tick.expiring) { tick.expiring = true; setTimeout(function () { tick.expiring = false; refresh(); }, 1000); }
    }
  }
  setInterval(tick, 250);
  // signinNote moves with the clock too, but a second is its grain.
  // When the sign-in runs out, the page is drawn again (its "you're
  // registered, keep this page open" no longer holds).
  var ranOut = false;
  setInterval(function () {
    if (!view) return;
    if (tokenRanOut() !== ranOut) { ranOut = !ranOut; render(); return; }
    signinNote(stateNow());
  }, 1000);

  // act runs a press. While it is in flight the button says what it is
  // doing (busyText) and is aria-busy: on a slow answer a button that
  // only greyed out looked broken.
  function act(button, fn, busyText) {
    $(button).addEventListener('click', function () {
      if (busy) return;
      busy = true;
      var b = $(button), label = b.textContent;
      b.disabled = true;
      if (busyText) { b.textContent = busyText; b.setAttribute('aria-busy', 'true'); }
      var done = function () { busy = false; b.disabled = false; b.textContent = label; b.removeAttribute('aria-busy'); };
      var m = $('message');
      var again = m.className === 'message bad' && m.dataset.transient !== '1' ? m.dataset.base || '' : '';
      say('');
      m.dataset.again = again;
      fn().then(function () { done(); render(); },
        function () { done(); say(sentences.internal, true); });
    });
  }

  act('register', function () {
    return api('POST', '/v1/drops/' + encodeURIComponent(dropID) + '/registrations', ref ? { ref: ref } : {}).then(function (r) {
      if (!r.ok) return sayProblem(r.data);
      try { localStorage.removeItem(refKey); } catch (e) { /* nothing kept */ }
      // Said at once, from the answer (this answer is newer than any view
      // asked before it); the view follows. Register is gone: the keyboard
      // and a screen reader go to the sentence that says she is in.
      applied = ++asked;
      if (me) me.registered = true;
      sessionStorage.setItem(registeredKey, '1');
      render();
      if (!$('registered').hidden) $('registered').focus();
      refresh();
    });
  }, 'Registering…');

  // A press whose outcome is unknown (no answer, or the shop too busy to
  // say) may have won: the next press of the same kind within 30 s
  // repeats it with the same Idempotency-Key, so it gets that outcome
  // instead of a second decision. A final answer ends it, and so does a
  // view showing the outcome; later, or after that, the next press is a
  // new one (a stored sold_out would otherwise answer a press made after
  // a restock).
  var pending = null; // {key, waitlist, quantity, at}
  var wanted = 1; // the quantity she chose, before any cap by what is left
  $('quantity').addEventListener('change', function () { wanted = Number($('quantity').value) || 1; });

  function reserve(waitlist) {
    var quantity = $('qty').hidden ? 1 : Number($('quantity').value) || 1;
    var stockAtPress = view ? view.available : 0;
    // The repeat of a press whose outcome is unknown asks for what that
    // press asked for, whatever the list now offers (its own win may be
    // what lowered the stock), or it would be a second decision.
    if (pending && pending.waitlist === waitlist && Date.now() - pending.at <= 30000) quantity = pending.quantity;
    if (!pending || pending.waitlist !== waitlist || pending.quantity !== quantity || Date.now() - pending.at > 30000) {
      pending = { waitlist: waitlist, quantity: quantity, key: 'press-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10) };
    }
    var key = pending.key;
    return api('POST', '/v1/drops/' + encodeURIComponent(dropID) + '/reservations', waitlist ? { quantity: quantity, waitlist: true } : { quantity: quantity },
      { 'Idempotency-Key': key }).then(function (r) {
      if (r.status !== 0 && r.status < 500 && r.status !== 429) pending = null;
      else if (pending) pending.at = Date.now();
      // This answer is newer than any view asked for before it.
      applied = ++asked;
      if (r.ok) {
        me = me || { registered: true };
        me.reservation = r.data.reservation;
        me.waitlist_position = null;
        // Her win took units: the stock shown says so at once, not when
        // the next view (up to a second old) catches up. From the stock
        // seen at her press, so a live event that already counted her win
        // is not counted twice; for 1.5 s no view older than her win puts
        // the units back, and then a fresh view settles it (a release in
        // that moment, which the floor hid, shows then).
        if (view && !r.data.reservation.from_waitlist) {
          view.available = Math.max(0, Math.min(view.available, stockAtPress - (r.data.reservation.quantity || 1)));
          shownAvail = { value: view.available, until: Date.now() + 1500 };
          setTimeout(function () { shownAvail = null; refresh(); }, 1600);
        }
        say('');
        render();
        // Buy is gone: the keyboard and a screen reader go to the news.
        $('hold-title').focus();
        refresh();
        return;
      }
      if (r.data.code === 'sold_out' && r.data.waitlist_position) {
        sessionStorage.setItem(waitKey, String(quantity));
        me = me || { registered: true };
        me.waitlist_position = r.data.waitlist_position;
        say('');
        render();
        // Join is gone: the focus goes to the waitlist's heading, which
        // a screen reader reads with her place in line (its description).
        $('waitlist-title').focus();
        refresh();
        return;
      }
      sayProblem(r.data);
      // The answer is in: the button is hers again now, not once a view
      // comes back (after a 503 that view may wait on the same busy
      // backend for seconds, under "Try again in a moment"). The view
      // follows in the background.
      refresh().then(function () {
        // Sold out for the number she asked, not for one: say how many
        // are left (the list is now capped at that).
        if (r.data.code === 'sold_out' && quantity > 1 && view && view.available > 0 && view.available < quantity) {
          say('Only ' + view.available + (view.available === 1 ? ' unit is' : ' units are') + ' left, fewer than you asked for: choose fewer and press Buy again.', true);
        }
      });
    });
  }
  act('buy', function () { return reserve(false); }, 'Reserving…');
  act('join', function () { return reserve(true); }, 'Joining…');

  function settle(action) {
    var res = me && me.reservation;
    if (!res) return Promise.resolve();
    return api('POST', '/v1/reservations/' + encodeURIComponent(res.id) + '/' + action).then(function (r) {
      // This answer is newer than any view asked for before it.
      applied = ++asked;
      // Her own cancel gives units back: no floor from her win holds them.
      shownAvail = null;
      if (!r.ok) sayProblem(r.data);
      else {
        say(action === 'confirm' ? 'Confirmed. Enjoy!' : 'Cancelled. The unit went back to the sale (or to the next shopper waiting).');
        told.status = action === 'confirm' ? 'confirmed' : 'cancelled';
      }
      return refresh();
    });
  }
  act('confirm', function () { return settle('confirm'); });

  // Giving up a won unit cannot be undone: Cancel asks once more, on the
  // button itself, for a few seconds.
  var cancelTimer = null;
  function cancelArmed(on) {
    clearTimeout(cancelTimer);
    $('cancel').dataset.armed = on ? '1' : '';
    $('cancel').textContent = on ? 'Yes, give it up' : 'Cancel';
    show('cancel-note', on);
    if (on) cancelTimer = setTimeout(function () { cancelArmed(false); }, 6000);
  }
  $('cancel').addEventListener('click', function () {
    if (busy) return;
    if (!$('cancel').dataset.armed) { cancelArmed(true); return; }
    cancelArmed(false);
    busy = true;
    $('cancel').disabled = true;
    say('');
    settle('cancel').then(function () { busy = false; $('cancel').disabled = false; render(); },
      function () { busy = false; $('cancel').disabled = false; say(sentences.internal, true); });
  });

  $('share-button').addEventListener('click', function () {
    var url = $('share-url').value;
    if (navigator.share) {
      navigator.share({ title: view ? view.name : 'flashdrop', url: url }).catch(function () {});
      return;
    }
    var done = function () { say('Link copied. Paste it anywhere.'); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(done, function () { $('share-url').select(); say('Select and copy the link above.'); });
    } else {
      $('share-url').select();
      say('Select and copy the link above.');
    }
  });

  // Live state and stock, pushed by the server; the clock is resynced on
  // every event. The browser reopens a stream that ends or breaks, but
  // not one the server refused (503 past its stream bounds): the page
  // opens it again itself, later each time (2 s doubling to a minute,
  // with jitter, so refused pages do not return together), and polls the
  // view meanwhile.
  var streaming = false, retryIn = 2000;
  function openLive() {
    if (gone) return;
    var live = new EventSource('/v1/drops/' + encodeURIComponent(dropID) + '/live');
    live.addEventListener('open', function () { streaming = true; retryIn = 2000; });
    live.addEventListener('drop', function (e) {
      var ev = JSON.parse(e.data);
      if (ev.time) offset = Date.parse(ev.time) - Date.now();
      if (!view) return;
      reached();
      if (typeof ev.released === 'number') released = ev.released;
      var moved = ev.state !== view.state || ev.available !== view.available || ev.paused !== view.paused;
      view.state = ev.state; view.available = ev.available; view.paused = ev.paused;
      view.available = floored(view.available);
      render();
      // A shopper's own view changes with the drop's (a promotion, a
      // draw): ask for it when something moved.
      if (moved && token) refresh();
    });
    live.addEventListener('error', function () {
      streaming = false;
      released = null;
      if (live.readyState === EventSource.CLOSED) {
        setTimeout(openLive, retryIn / 2 + Math.random() * retryIn);
        retryIn = Math.min(retryIn * 2, 60000);
      }
    });
  }
  if (window.EventSource) openLive();

  // The page asks for its view by itself: every 3–5 s while it has no
  // live stream (the stream is what tells it of the sale's changes); on
  // the waitlist, where the position moves without the drop changing
  // state, when the stream counted a release (at most every 2 s) and
  // every 30 s otherwise; while a hold waits for the shop's confirmation,
  // every 10 s (a confirmation changes neither state nor stock); and when
  // the tab comes back into view.
  var pollGap = 3000 + Math.random() * 2000;
  setInterval(function () {
    var since = Date.now() - askedAt;
    // One view request at a time from the poller: a slow server is not
    // sent more while it has not answered the last.
    if (inflight > 0 || gone) return;
    if (!streaming) {
      if (since >= pollGap) refresh();
      return;
    }
    if (!token || !me) return;
    if (me.waitlist_position) {
      var moved = released !== askedReleased;
      if ((moved && since >= 2000) || since >= 30000) refresh();
    } else if (me.reservation && me.reservation.status === 'held' && since >= 10000) {
      refresh();
    }
  }, 500);
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible' && Date.now() - askedAt >= 1000) refresh();
  });

  refresh();
})();
