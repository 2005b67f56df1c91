/**
 * The editor's "Import from ThingsBoard…": a main-menu entry and an action (rule-engine:import-thingsboard) that
 * open a tray taking the ThingsBoard exports (rule chain, converters, integration, dashboard), send them to the
 * runtime's importer and import the resulting flow as a new tab, as the clipboard import does. Nothing reaches
 * the runtime until the user deploys. What the exports hold (names, scripts, the report) is shown as text.
 */
(() => {
  const NS = '@rule-engine/node-red-rule-engine/rule-device-store';
  const ACTION = 'rule-engine:import-thingsboard';
  const _ = (key) => RED._(`${NS}:device-store.import.${key}`);

  /** The file inputs of the tray, in the order the importer takes them. */
  const FIELDS = [
    { id: 'ruleChain', multiple: false, required: true },
    { id: 'converters', multiple: true },
    { id: 'integration', multiple: false },
    { id: 'dashboard', multiple: false },
  ];

  function readFile(file) {
    return file.text().then((text) => ({ name: file.name, text }));
  }

  /** The request body from the tray's inputs; rejects when the rule chain is missing. */
  function collect(body) {
    const files = (id) => Array.from(body.find(`#rule-engine-import-${id}`)[0].files);
    const chain = files('ruleChain');
    if (chain.length === 0) return Promise.reject(new Error(_('needRuleChain')));
    const one = (id) => (files(id).length > 0 ? readFile(files(id)[0]) : Promise.resolve(undefined));
    return Promise.all([
      readFile(chain[0]),
      Promise.all(files('converters').map(readFile)),
      one('integration'),
      one('dashboard'),
    ]).then(([ruleChain, converters, integration, dashboard]) => ({ ruleChain, converters, integration, dashboard }));
  }

  /** The report as text lines in a <pre>, never as HTML. */
  function reportElement(report) {
    const lines = [`${_('notMapped')} (${report.notMapped.length})`];
    for (const l of report.notMapped) lines.push(`  - ${l}`);
    if (report.notes.length > 0) lines.push(`${_('notes')} (${report.notes.length})`);
    for (const l of report.notes) lines.push(`  - ${l}`);
    const box = $('<div>');
    $('<p>').text(_('imported')).appendTo(box);
    $('<pre class="rule-engine-import-report">')
      .css({ maxHeight: '300px', overflow: 'auto', whiteSpace: 'pre-wrap' })
      .text(lines.join('\n'))
      .appendTo(box);
    return box;
  }

  function showReport(report) {
    const note = RED.notify(reportElement(report), {
      type: report.notMapped.length > 0 ? 'warning' : 'success',
      fixed: true,
      width: 700,
      buttons: [{ text: RED._('common.label.close'), click: () => note.close() }],
    });
  }

  function openTray() {
    let body;
    const error = $('<div class="form-row rule-engine-import-error">').css({ color: 'var(--red-ui-text-color-error)' });
    const run = () => {
      error.text('');
      collect(body)
        .then(
          (request) =>
            new Promise((resolve, reject) => {
              $.ajax({
                url: 'rule-engine/import/thingsboard',
                type: 'POST',
                contentType: 'application/json; charset=utf-8',
                data: JSON.stringify(request),
                success: resolve,
                error: (xhr) => reject(new Error(xhr.responseJSON?.error || xhr.statusText || String(xhr.status))),
              });
            }),
        )
        .then((result) => {
          RED.tray.close();
          const before = new Set();
          RED.nodes.eachWorkspace((ws) => before.add(ws.id));
          RED.view.importNodes(result.flow, { generateIds: true, addFlow: false, notify: false });
          // Shows the new tab: the import leaves the one the user was on in front.
          RED.nodes.eachWorkspace((ws) => {
            if (!before.has(ws.id)) RED.workspaces.show(ws.id);
          });
          showReport(result.report);
        })
        .catch((err) => error.text(err.message));
    };
    RED.tray.show({
      title: _('title'),
      width: 600,
      buttons: [
        { id: 'rule-engine-import-cancel', text: RED._('common.label.cancel'), click: () => RED.tray.close() },
        { id: 'rule-engine-import-ok', text: _('import'), class: 'primary', click: run },
      ],
      open: (tray) => {
        body = tray.find('.red-ui-tray-body');
        const form = $('<form class="dialog-form form-horizontal">').appendTo(body);
        $('<div class="form-tips">').text(_('tip')).appendTo(form);
        for (const f of FIELDS) {
          const row = $('<div class="form-row">').appendTo(form);
          $('<label>').attr('for', `rule-engine-import-${f.id}`).css({ width: '100%' }).text(_(f.id)).appendTo(row);
          $('<input type="file" accept=".json,application/json">')
            .attr('id', `rule-engine-import-${f.id}`)
            .prop('multiple', f.multiple)
            .appendTo(row);
        }
        error.appendTo(form);
      },
    });
  }

  RED.actions.add(ACTION, openTray);
  const menu = $('#red-ui-header-button-sidemenu-submenu');
  if (menu.length > 0 && $('#menu-item-rule-engine-import').length === 0) {
    RED.menu.addItem('red-ui-header-button-sidemenu', {
      id: 'menu-item-rule-engine-import',
      label: _('menu'),
      onselect: ACTION,
    });
    // Beside the editor's own Import entry, where a user looks for it.
    const own = $('#menu-item-import').parent();
    if (own.length > 0) own.after($('#menu-item-rule-engine-import').parent());
  }
})();
