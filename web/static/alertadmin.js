// WardWatch alert settings: asks before destructive buttons (data-confirm)
// and greys out rows ticked for removal. The pages work without it.
(function () {
  'use strict';

  document.addEventListener('click', function (ev) {
    var btn = ev.target.closest('[data-confirm]');
    if (btn && !window.confirm(btn.getAttribute('data-confirm'))) {
      ev.preventDefault();
    }
  });

  function mark(box) {
    var row = box.closest('tr, fieldset');
    if (row) row.classList.toggle('is-removed', box.checked);
  }

  document.addEventListener('change', function (ev) {
    var t = ev.target;
    if (t.matches && t.matches('input[type="checkbox"][name$=".remove"]')) mark(t);
  });

  document.querySelectorAll('input[type="checkbox"][name$=".remove"]').forEach(mark);
})();
