// hygie annotation page: hand-written, no build step, no dependency.
// The page works without it (a JSON text box for spans, radio buttons for
// choices); with it, spans are marked with the mouse or the keyboard.
//
// Offsets are code points of the task's text, end excluded, as in
// internal/annotate and internal/privacy/deid. JavaScript strings count
// UTF-16 units: every DOM offset is converted through cpU16.
(function () {
  'use strict';
  var root = document.getElementById('annotator');
  var dataEl = document.getElementById('task-data');
  if (!root || !dataEl) { return; }
  var data = JSON.parse(dataEl.textContent);
  var form = document.getElementById('answer-form');
  var statusEl = document.getElementById('ann-status');
  var skip = document.getElementById('skip');
  var skipReason = document.getElementById('skip-reason');
  var textEl = document.getElementById('task-text');
  var isSpan = data.kind === 'span';
  var labels = data.labels || [];
  var byKey = {};
  labels.forEach(function (l) { if (l.shortcut) { byKey[l.shortcut.toLowerCase()] = l.name; } });

  function say(msg) { if (statusEl) { statusEl.textContent = msg; } }

  // ---- code points ----
  var text = data.text || '';
  var cpU16 = []; // cpU16[i]: the UTF-16 index of code point i; cpU16[n] = text.length
  (function () { var j = 0; for (var ch of text) { cpU16.push(j); j += ch.length; } cpU16.push(j); })();
  var n = cpU16.length - 1;
  var cps = Array.from(text);
  function toCp(j, up) {
    var lo = 0, hi = n;
    while (lo < hi) { var m = (lo + hi + 1) >> 1; if (cpU16[m] <= j) { lo = m; } else { hi = m - 1; } }
    return (up && cpU16[lo] < j) ? lo + 1 : lo;
  }
  function slice(a, b) { return text.slice(cpU16[a], cpU16[b]); }

  // ---- state ----
  var spans = (data.spans || []).map(function (s) { return { start: s.start, end: s.end, label: s.label }; });
  var suggs = (data.suggestions || []).map(function (s) { return { start: s.start, end: s.end, label: s.label, state: 'pending' }; });
  var selected = -1; // index in spans
  var items = []; // suggestion list entries: {li, sugg (index in suggs) or choice}
  var current = -1; // index in items
  var explicit = false; // the current suggestion was chosen by the user

  // ---- the answer ----
  var answer = document.getElementById('answer');
  var fallbackText = document.getElementById('answer-text');
  var fallback = document.getElementById('answer-fallback');
  if (isSpan && answer && fallbackText) {
    answer.disabled = false;
    fallbackText.disabled = true;
    if (fallback) { fallback.hidden = true; }
  }
  function syncAnswer() {
    if (!isSpan || !answer) { return; }
    spans.sort(function (a, b) { return a.start - b.start || a.end - b.end; });
    answer.value = JSON.stringify({ spans: spans.map(function (s) { return { start: s.start, end: s.end, label: s.label }; }) });
  }

  // ---- rendering ----
  function covering(list, a, b, pred) {
    var out = [];
    list.forEach(function (s, i) { if (s.start <= a && b <= s.end && (!pred || pred(s))) { out.push(i); } });
    return out;
  }
  function mark(cls, a, b, label, attr, idx, tail) {
    var m = document.createElement('mark');
    m.className = cls + (tail ? ' tail' : '');
    m.dataset.start = a; m.dataset.end = b; m.dataset.label = label; m.dataset[attr] = idx;
    m.textContent = slice(a, b);
    return m;
  }
  function renderText() {
    if (!textEl) { return; }
    var pending = function (s) { return s.state === 'pending'; };
    var cuts = {}; cuts[0] = true; cuts[n] = true;
    spans.forEach(function (s) { cuts[s.start] = true; cuts[s.end] = true; });
    suggs.forEach(function (s) { if (pending(s)) { cuts[s.start] = true; cuts[s.end] = true; } });
    var bounds = Object.keys(cuts).map(Number).filter(function (x) { return x >= 0 && x <= n; }).sort(function (x, y) { return x - y; });
    var frag = document.createDocumentFragment();
    var cur = items[current] && items[current].sugg;
    for (var i = 0; i + 1 < bounds.length; i++) {
      var a = bounds[i], b = bounds[i + 1];
      var cs = covering(spans, a, b);
      if (cs.length) {
        var s = spans[cs[0]];
        var cls = 'ann' + (cs.length > 1 ? ' overlap' : '') + (cs.indexOf(selected) >= 0 ? ' selected' : '');
        frag.appendChild(mark(cls, a, b, s.label, 'span', cs[0], b === s.end));
        continue;
      }
      var gs = covering(suggs, a, b, pending);
      if (gs.length) {
        var g = suggs[gs[0]];
        frag.appendChild(mark('sugg' + (gs[0] === cur ? ' current' : ''), a, b, g.label, 'sugg', gs[0], b === g.end));
        continue;
      }
      frag.appendChild(document.createTextNode(slice(a, b)));
    }
    textEl.replaceChildren(frag);
  }
  var spanList = document.getElementById('span-list');
  var spanEmpty = document.getElementById('span-empty');
  function renderSpans() {
    if (!spanList) { return; }
    var frag = document.createDocumentFragment();
    spans.forEach(function (s, i) {
      var li = document.createElement('li');
      li.dataset.start = s.start; li.dataset.end = s.end; li.dataset.label = s.label;
      if (i === selected) { li.className = 'selected'; }
      var sw = document.createElement('span'); sw.className = 'ann-swatch'; sw.dataset.label = s.label;
      var pick = document.createElement('button'); pick.type = 'button'; pick.className = 'ann-span-pick'; pick.dataset.span = i;
      pick.textContent = s.label + ' “' + slice(s.start, s.end) + '” ' + s.start + '–' + s.end;
      var del = document.createElement('button'); del.type = 'button'; del.className = 'ann-span-del'; del.dataset.del = i;
      del.textContent = '×'; del.setAttribute('aria-label', 'Delete the span ' + s.label + ' ' + s.start + '–' + s.end);
      li.append(sw, ' ', pick, ' ', del);
      frag.appendChild(li);
    });
    spanList.replaceChildren(frag);
    if (spanEmpty) { spanEmpty.textContent = spans.length ? '' : 'No span yet.'; }
  }
  function renderSuggestions() {
    items.forEach(function (it, i) {
      var st = it.sugg !== undefined ? suggs[it.sugg].state : it.state;
      it.li.classList.toggle('accepted', st === 'accepted');
      it.li.classList.toggle('rejected', st === 'rejected');
      it.li.classList.toggle('current', i === current);
      it.li.dataset.state = st;
    });
  }
  function render() { renderText(); renderSpans(); renderSuggestions(); syncAnswer(); }

  // ---- selection ↔ offsets ----
  function u16At(node, offset) {
    var r = document.createRange();
    r.setStart(textEl, 0);
    r.setEnd(node, offset);
    return r.toString().length;
  }
  function domAt(cp) {
    var j = cpU16[Math.max(0, Math.min(n, cp))], acc = 0;
    var w = document.createTreeWalker(textEl, NodeFilter.SHOW_TEXT), t, last = null;
    while ((t = w.nextNode())) {
      if (j <= acc + t.data.length) { return [t, j - acc]; }
      acc += t.data.length; last = t;
    }
    return last ? [last, last.data.length] : [textEl, 0];
  }
  function inText(node) { return node && textEl && textEl.contains(node); }
  // selectionCp returns the selection's anchor and focus as code points, or null.
  function selectionCp() {
    var sel = window.getSelection();
    if (!textEl || !sel || sel.rangeCount === 0) { return null; }
    if (inText(sel.anchorNode) && inText(sel.focusNode)) {
      return { anchor: toCp(u16At(sel.anchorNode, sel.anchorOffset)), focus: toCp(u16At(sel.focusNode, sel.focusOffset)) };
    }
    var r = sel.getRangeAt(0);
    if (sel.isCollapsed || !r.intersectsNode(textEl)) { return null; }
    var s = inText(r.startContainer) ? u16At(r.startContainer, r.startOffset) : 0;
    var e = inText(r.endContainer) ? u16At(r.endContainer, r.endOffset) : text.length;
    return { anchor: toCp(s), focus: toCp(e, true) };
  }
  // selectedRange is the selected passage, trimmed of white space, or null.
  function selectedRange() {
    var p = selectionCp();
    if (!p || p.anchor === p.focus) { return null; }
    var a = Math.min(p.anchor, p.focus), b = Math.max(p.anchor, p.focus);
    while (a < b && /\s/.test(cps[a])) { a++; }
    while (b > a && /\s/.test(cps[b - 1])) { b--; }
    return a < b ? { start: a, end: b } : null;
  }
  // setSelection selects from anchor to focus; a collapsed selection is
  // drawn as a caret (it is invisible in text that is not editable).
  function setSelection(anchor, focus) {
    removeCaret();
    if (anchor === focus) {
      var c = document.createElement('span');
      c.className = 'ann-caret'; c.setAttribute('aria-hidden', 'true');
      var p = domAt(focus), r = document.createRange();
      r.setStart(p[0], p[1]); r.insertNode(c);
    }
    var a = domAt(anchor), f = domAt(focus);
    window.getSelection().setBaseAndExtent(a[0], a[1], f[0], f[1]);
  }
  function removeCaret() {
    var old = textEl && textEl.querySelector('.ann-caret');
    if (old) { old.remove(); textEl.normalize(); }
  }
  function clearSelection() { var sel = window.getSelection(); if (sel) { sel.removeAllRanges(); } removeCaret(); }
  var wordRE = /[\p{L}\p{N}_]/u;
  function move(f, dir, word) {
    if (!word) { return Math.max(0, Math.min(n, f + dir)); }
    if (dir > 0) {
      while (f < n && !wordRE.test(cps[f])) { f++; }
      while (f < n && wordRE.test(cps[f])) { f++; }
    } else {
      while (f > 0 && !wordRE.test(cps[f - 1])) { f--; }
      while (f > 0 && wordRE.test(cps[f - 1])) { f--; }
    }
    return f;
  }

  // ---- actions ----
  function overlapping(a, b, except) {
    for (var i = 0; i < spans.length; i++) {
      if (i !== except && spans[i].start < b && a < spans[i].end) { return spans[i]; }
    }
    return null;
  }
  function describe(s) { return s.label + ' “' + slice(s.start, s.end) + '” (' + s.start + '–' + s.end + ')'; }
  function addSpan(r, label) {
    var o = overlapping(r.start, r.end, -1);
    if (o) { say('Not added: it overlaps ' + describe(o) + '. Delete that span first.'); return false; }
    spans.push({ start: r.start, end: r.end, label: label });
    selected = -1;
    render();
    setSelection(r.end, r.end);
    say('Added ' + describe({ start: r.start, end: r.end, label: label }) + '.');
    return true;
  }
  function selectSpan(i) {
    selected = i;
    explicit = false;
    clearSelection();
    render();
    if (i >= 0) { say('Selected ' + describe(spans[i]) + ': Delete removes it, a label key relabels it, Esc deselects.'); }
  }
  function deleteSpan(i) {
    var s = spans[i];
    spans.splice(i, 1);
    selected = -1;
    render();
    say('Deleted ' + describe(s) + '.');
  }
  function relabel(i, label) {
    spans[i].label = label;
    render();
    say('Relabelled ' + describe(spans[i]) + '.');
  }
  function nextPending(from) {
    for (var k = 0; k < items.length; k++) {
      var i = (from + k) % items.length;
      var it = items[i];
      var st = it.sugg !== undefined ? suggs[it.sugg].state : it.state;
      if (st === 'pending') { return i; }
    }
    return -1;
  }
  function decide(i, accept, label) {
    var it = items[i];
    if (!it) { return; }
    if (it.sugg !== undefined) {
      var g = suggs[it.sugg];
      if (accept) {
        var o = overlapping(g.start, g.end, -1);
        if (o) { say('Not accepted: it overlaps ' + describe(o) + '. Delete that span first, or reject the suggestion.'); return; }
        spans.push({ start: g.start, end: g.end, label: label || g.label });
        g.state = 'accepted';
        say('Accepted ' + describe(spans[spans.length - 1]) + '.');
      } else {
        g.state = 'rejected';
        say('Rejected the suggestion ' + describe(g) + '.');
      }
    } else {
      if (accept) {
        var input = form.querySelector('input[name="choice"][value="' + CSS.escape(it.choice) + '"]');
        if (input) { input.checked = true; }
        say('Accepted the suggested label ' + it.choice + '.');
      } else {
        say('Rejected the suggested label ' + it.choice + '.');
      }
      it.state = accept ? 'accepted' : 'rejected';
    }
    current = nextPending(i);
    explicit = false;
    render();
  }
  function pickChoice(nth) {
    var input = form.querySelector('input[name="choice"][data-n="' + nth + '"]');
    if (!input) { return false; }
    input.checked = input.type === 'checkbox' ? !input.checked : true;
    say((input.checked ? 'Chosen: ' : 'Removed: ') + input.value + '.');
    return true;
  }
  function openSkip() {
    if (!skip) { return; }
    skip.open = true;
    if (skipReason) { skipReason.focus(); }
    say('Say why you skip this task, then Ctrl+Enter.');
  }
  var sent = false;
  function submit(f) {
    if (sent) { return; }
    if (f.requestSubmit) { f.requestSubmit(); } else { f.submit(); }
  }
  document.addEventListener('submit', function () { syncAnswer(); sent = true; });
  window.addEventListener('pageshow', function () { sent = false; }); // back from the next page

  // ---- suggestions list ----
  document.querySelectorAll('#suggestions .ann-sugg').forEach(function (li) {
    var it = { li: li, state: 'pending' };
    if (li.dataset.sugg !== undefined) { it.sugg = Number(li.dataset.sugg); } else { it.choice = li.dataset.choice; }
    var idx = items.length;
    items.push(it);
    li.tabIndex = 0;
    var acts = li.querySelector('.ann-sugg-actions');
    if (acts) { acts.hidden = false; }
    li.addEventListener('click', function (e) {
      var act = e.target.closest('[data-act]');
      if (act) { decide(idx, act.dataset.act === 'accept'); return; }
      current = idx; explicit = true; render();
    });
    li.addEventListener('focus', function () { current = idx; explicit = true; renderSuggestions(); renderText(); });
  });
  current = nextPending(0);

  // ---- mouse ----
  if (textEl) {
    textEl.addEventListener('click', function (e) {
      if (selectedRange()) { return; } // a drag selected a passage: keep it
      var m = e.target.closest('mark');
      if (m && m.dataset.span !== undefined) { selectSpan(Number(m.dataset.span)); return; }
      if (m && m.dataset.sugg !== undefined) {
        var i = items.findIndex(function (it) { return it.sugg === Number(m.dataset.sugg); });
        if (i >= 0) { current = i; explicit = true; selected = -1; render(); say('Suggestion ' + describe(suggs[items[i].sugg]) + ': A accepts, R rejects, a label key accepts it with that label.'); }
        return;
      }
      if (selected >= 0) { selectSpan(-1); }
    });
    textEl.addEventListener('mouseup', function () {
      var r = selectedRange();
      if (r) { selected = -1; say('Selected “' + slice(r.start, r.end) + '” (' + r.start + '–' + r.end + '): press a label key.'); }
    });
  }
  if (spanList) {
    spanList.addEventListener('click', function (e) {
      var b = e.target.closest('button');
      if (!b) { return; }
      if (b.dataset.del !== undefined) { deleteSpan(Number(b.dataset.del)); }
      else if (b.dataset.span !== undefined) { selectSpan(Number(b.dataset.span)); }
    });
  }

  // ---- keyboard ----
  document.addEventListener('keydown', function (e) {
    if (e.defaultPrevented || e.isComposing) { return; }
    var t = e.target;
    var tag = t && t.tagName;
    var typing = tag === 'TEXTAREA' || tag === 'INPUT' || tag === 'SELECT' || (t && t.isContentEditable);
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      var f = (t && t.form) || form;
      if (f) { e.preventDefault(); submit(f); }
      return;
    }
    if (typing) {
      if (e.key === 'Escape' && skip && skip.contains(t)) { skip.open = false; if (textEl) { textEl.focus(); } }
      return;
    }
    if (e.ctrlKey && !e.altKey && (e.key === 'ArrowLeft' || e.key === 'ArrowRight') && t === textEl) { /* by word, below */ }
    else if (e.ctrlKey || e.metaKey || e.altKey) { return; }

    // Caret and selection with the keyboard, inside the text.
    if (textEl && t === textEl && (e.key === 'ArrowLeft' || e.key === 'ArrowRight' || e.key === 'Home' || e.key === 'End')) {
      var p = selectionCp() || { anchor: 0, focus: 0 };
      var fcp = e.key === 'Home' ? 0 : e.key === 'End' ? n : move(p.focus, e.key === 'ArrowRight' ? 1 : -1, e.ctrlKey);
      e.preventDefault();
      selected = -1;
      setSelection(e.shiftKey ? p.anchor : fcp, fcp);
      if (e.shiftKey) {
        var r = selectedRange();
        say(r ? 'Selected “' + slice(r.start, r.end) + '” (' + r.start + '–' + r.end + '): press a label key.' : '');
      }
      return;
    }
    if (e.key === 'Enter') {
      if (tag === 'BUTTON' || tag === 'A' || tag === 'SUMMARY') { return; }
      e.preventDefault();
      submit(form);
      return;
    }
    if (e.key === 'Escape') {
      clearSelection(); selected = -1; explicit = false;
      if (skip) { skip.open = false; }
      render(); say('');
      return;
    }
    var k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (isSpan) {
      var range = selectedRange();
      if (range && byKey[k]) { e.preventDefault(); addSpan(range, byKey[k]); return; }
      if (selected >= 0) {
        if (k === 'Delete' || k === 'Backspace') { e.preventDefault(); deleteSpan(selected); return; }
        if (byKey[k]) { e.preventDefault(); relabel(selected, byKey[k]); return; }
      }
      if (current >= 0 && !range) {
        if (k === 'a' || k === 'r') { e.preventDefault(); decide(current, k === 'a'); return; }
        if (explicit && byKey[k] && items[current].sugg !== undefined) { e.preventDefault(); decide(current, true, byKey[k]); return; }
      }
      if (k === 's') { e.preventDefault(); openSkip(); return; }
      if (byKey[k]) { say('Select a passage first (mouse, or Shift + arrows in the text), then press ' + e.key + '.'); }
      return;
    }
    if (/^[1-9]$/.test(k) && pickChoice(k)) { e.preventDefault(); return; }
    if (current >= 0 && (k === 'a' || k === 'r')) { e.preventDefault(); decide(current, k === 'a'); return; }
    if (k === 's') { e.preventDefault(); openSkip(); }
  });

  root.classList.add('js');
  render();
})();
