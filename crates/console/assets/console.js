// Osprey console: database API keys for people.
//
// Plain JavaScript, no framework and no build step; served by the server
// itself at /dashboard under a Content-Security-Policy that allows this
// origin only. Rules this file keeps (crates/console/src/tests.rs checks
// them on its text):
// - the root key lives in this tab's sessionStorage and in memory, and is
//   sent only to this origin, in the `api-key` header;
// - text from the server is always inserted as text (textContent, text
//   nodes, attribute values), never parsed as HTML;
// - every request goes through api(), to a path of this origin.
'use strict';

(() => {
  const STORAGE_KEY = 'osprey.console-root-key';
  const MAX_EXPIRES_IN_DAYS = 36500;
  const NAME_PATTERN = /^[\p{L}\p{N} _-]{4,128}$/u;

  const $ = (id) => document.getElementById(id);

  /** The root key of this session, or null when signed out. */
  let rootKey = null;
  /** The record a confirmation dialog is about to revoke. */
  let revokeTarget = null;
  /** Where focus goes back to when a dialog closes. */
  let returnFocus = null;

  // ---- DOM helpers ---------------------------------------------------------

  /**
   * A new element. `attrs` become attributes (`className` and `text` set
   * those properties); children are nodes or strings, which become text
   * nodes, so nothing here is ever parsed as HTML.
   */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'className') node.className = value;
      else if (name === 'text') node.textContent = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** Says `text` to screen readers through the polite live region. */
  function announce(text) {
    const region = $('announcer');
    region.textContent = '';
    window.setTimeout(() => {
      region.textContent = text;
    }, 50);
  }

  function showError(id, text) {
    const box = $(id);
    box.textContent = text;
    box.hidden = !text;
  }

  // ---- talking to the server -----------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /**
   * Calls this server with the root key. Resolves to the `result` of Qdrant's
   * envelope; rejects with an ApiError carrying the status and the server's
   * own message (`status.error`, or the plain-text body).
   */
  async function api(method, path, body) {
    if (!path.startsWith('/') || path.startsWith('//')) {
      throw new ApiError(0, `refusing to call ${path}: not a path of this server`);
    }
    if (rootKey === null) throw new ApiError(401, 'Not signed in');
    const headers = { 'api-key': rootKey, accept: 'application/json' };
    const init = {
      method,
      headers,
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
      referrerPolicy: 'no-referrer',
    };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new ApiError(0, `the server could not be reached (${error.message})`);
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const said =
        data && data.status && typeof data.status.error === 'string' ? data.status.error : text.trim();
      throw new ApiError(response.status, said || response.statusText || 'no message');
    }
    return data === null ? null : data.result;
  }

  const STATUS_MEANING = {
    400: 'the request was refused',
    401: 'the credentials were not accepted',
    403: 'access was refused',
    404: 'not found',
    405: 'method not allowed',
    409: 'conflict',
    413: 'the request is too large',
    429: 'too many requests',
    500: 'the server failed',
    501: 'not supported by this server',
    503: 'the server is not ready',
  };

  /** A sentence saying what failed and what the server answered. */
  function describe(action, error) {
    if (!(error instanceof ApiError)) return `${action} failed: ${error.message}`;
    if (error.status === 0) return `${action} failed: ${error.message}.`;
    const meaning = STATUS_MEANING[error.status] || 'refused';
    return `${action} failed. The server answered ${error.status} (${meaning}): ${error.message}`;
  }

  /**
   * Handles a failed call made while signed in: a 401 means the root key is
   * no longer accepted (changed in the configuration, or the server was
   * restarted with another key), so the session ends. Returns true then.
   */
  function endSessionOn401(error) {
    if (!(error instanceof ApiError) || error.status !== 401) return false;
    signOut(`The server no longer accepts this root key (401: ${error.message}). Sign in again.`);
    return true;
  }

  // ---- signing in and out --------------------------------------------------

  function signInMessage(error) {
    if (error instanceof ApiError && error.status === 401) {
      return `The server refused this key (401: ${error.message}). Check that you pasted the whole root key.`;
    }
    if (error instanceof ApiError && error.status === 403) {
      return (
        `This key is valid but is not the server's root key (403: ${error.message}). ` +
        'Managing API keys needs service.api_key or service.alt_api_key.'
      );
    }
    return describe('Signing in', error);
  }

  async function signIn(key) {
    const button = $('sign-in-submit');
    button.disabled = true;
    button.textContent = 'Signing in…';
    $('sign-in-form').setAttribute('aria-busy', 'true');
    showError('sign-in-error', '');
    rootKey = key;
    try {
      // Root only: proves the key is the root key, and tells the page
      // whether granular access is on.
      const settings = await api('GET', '/api-keys/settings');
      sessionStorage.setItem(STORAGE_KEY, key);
      $('root-key').value = '';
      enterApp(settings);
    } catch (error) {
      rootKey = null;
      sessionStorage.removeItem(STORAGE_KEY);
      showSignIn(signInMessage(error));
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in';
      $('sign-in-form').removeAttribute('aria-busy');
    }
  }

  function signOut(message) {
    rootKey = null;
    sessionStorage.removeItem(STORAGE_KEY);
    for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
    $('keys-body').replaceChildren();
    $('collections-body').replaceChildren();
    showSignIn(message || '');
    announce(message ? 'Signed out.' : 'Signed out. The root key was removed from this tab.');
  }

  function showSignIn(message) {
    $('nav').hidden = true;
    $('sign-out').hidden = true;
    $('view-keys').hidden = true;
    $('view-collections').hidden = true;
    $('view-sign-in').hidden = false;
    showError('sign-in-error', message);
    const input = $('root-key');
    input.setAttribute('aria-invalid', message ? 'true' : 'false');
    input.focus();
  }

  function enterApp(settings) {
    $('view-sign-in').hidden = true;
    $('nav').hidden = false;
    $('sign-out').hidden = false;
    renderSettings(settings);
    showView('keys', { focus: true });
    announce('Signed in.');
  }

  // ---- views ---------------------------------------------------------------

  function showView(name, { focus = false } = {}) {
    for (const view of ['keys', 'collections']) {
      $(`view-${view}`).hidden = view !== name;
      const link = $(`nav-${view}`);
      if (view === name) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    if (focus) {
      $(`${name}-title`).focus();
    }
    if (name === 'keys') loadKeys();
    else loadCollections();
  }

  // ---- API keys ------------------------------------------------------------

  function renderSettings(settings) {
    $('granular-off').hidden = Boolean(settings && settings.granular_access);
  }

  async function loadKeys() {
    const table = $('keys-table');
    table.setAttribute('aria-busy', 'true');
    try {
      const [records, settings] = await Promise.all([api('GET', '/api-keys'), api('GET', '/api-keys/settings')]);
      renderSettings(settings);
      renderKeys(records || []);
      showError('keys-error', '');
    } catch (error) {
      if (!endSessionOn401(error)) showError('keys-error', describe('Loading the API keys', error));
    } finally {
      table.removeAttribute('aria-busy');
    }
  }

  function keyStatus(record, now) {
    if (record.revoked_at) return 'revoked';
    if (record.expires_at && Date.parse(record.expires_at) <= now) return 'expired';
    return 'active';
  }

  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

  function time(iso) {
    const date = new Date(iso);
    const shown = Number.isNaN(date.getTime()) ? iso : dateFormat.format(date);
    return el('time', { datetime: iso, title: iso }, shown);
  }

  /** `tenant = "acme"`: JSON for the value, so text and numbers differ. */
  function condition(key, value) {
    return `${key} = ${JSON.stringify(value)}`;
  }

  /** What a key reaches, as a short list for the table. */
  function accessSummary(record) {
    if (record.kind === 'admin') return el('span', {}, 'Admin: full access');
    const rules = record.access_rules || [];
    const items = rules.map((rule) => {
      if (rule.global_access) {
        return rule.global_access.access_type === 'read' ? 'Cluster: read-only' : 'Cluster: manage / write';
      }
      const c = rule.collection_access || {};
      const access = c.access_type === 'read-write' ? 'read-write' : 'read';
      const pairs = Object.entries(c.payload || {}).map(([k, v]) => condition(k, v));
      const where = pairs.length ? `, only points where ${pairs.join(' and ')}` : '';
      return el('span', {}, el('strong', {}, c.collection_name), `: ${access}${where}`);
    });
    if (items.length === 1) return el('span', {}, items[0]);
    return el('ul', { className: 'rules' }, items.map((item) => el('li', {}, item)));
  }

  function renderKeys(records) {
    const body = $('keys-body');
    const now = Date.now();
    const rows = records.map((record) => {
      const status = keyStatus(record, now);
      let action = null;
      if (status !== 'revoked') {
        const button = el(
          'button',
          {
            type: 'button',
            className: 'danger small',
            'aria-label': `Revoke ${record.name} (key ending ${record.postfix})`,
          },
          'Revoke',
        );
        button.addEventListener('click', () => askRevoke(record, button));
        action = button;
      }
      return el(
        'tr',
        { 'data-key-id': record.id, 'data-status': status },
        el('th', { scope: 'row', 'data-label': 'Name' }, record.name),
        el('td', { 'data-label': 'Postfix' }, el('code', {}, `…${record.postfix}`)),
        el('td', { 'data-label': 'Access' }, accessSummary(record)),
        el('td', { 'data-label': 'Created' }, time(record.created_at)),
        el('td', { 'data-label': 'Expires' }, record.expires_at ? time(record.expires_at) : 'never'),
        el('td', { 'data-label': 'Last used' }, record.last_used_at ? time(record.last_used_at) : 'never'),
        el('td', { 'data-label': 'Status' }, el('span', { className: `badge badge-${status}` }, status)),
        el('td', { 'data-label': 'Actions', className: 'row-actions' }, action),
      );
    });
    body.replaceChildren(...rows);
    $('keys-empty').hidden = records.length > 0;
    $('keys-table').hidden = records.length === 0;
  }

  async function enableGranular() {
    const button = $('enable-granular');
    button.disabled = true;
    try {
      const settings = await api('PUT', '/api-keys/settings', { granular_access: true });
      renderSettings(settings);
      showError('keys-error', '');
      announce('Granular access is on. Existing admin keys keep working.');
      $('create-key').focus();
    } catch (error) {
      if (!endSessionOn401(error)) showError('keys-error', describe('Enabling granular access', error));
    } finally {
      button.disabled = false;
    }
  }

  // ---- revoking ------------------------------------------------------------

  function askRevoke(record, opener) {
    revokeTarget = record;
    returnFocus = opener;
    $('revoke-title').textContent = `Revoke “${record.name}”?`;
    $('revoke-text').textContent =
      `The key ending ${record.postfix} will be refused from its next request, over REST and gRPC. ` +
      'This cannot be undone: applications that use it need a new key.';
    showError('revoke-error', '');
    $('revoke-dialog').showModal();
    $('revoke-cancel').focus();
  }

  async function confirmRevoke() {
    const record = revokeTarget;
    if (!record) return;
    const button = $('revoke-confirm');
    button.disabled = true;
    try {
      await api('DELETE', `/api-keys/${encodeURIComponent(record.id)}`);
      returnFocus = $('keys-title');
      $('revoke-dialog').close();
      announce(`Key ${record.name} revoked.`);
      await loadKeys();
    } catch (error) {
      if (!endSessionOn401(error)) showError('revoke-error', describe('Revoking the key', error));
    } finally {
      button.disabled = false;
    }
  }

  // ---- tabs ----------------------------------------------------------------

  function selectTab(tab) {
    const list = tab.closest('[role=tablist]');
    for (const other of list.querySelectorAll('[role=tab]')) {
      const selected = other === tab;
      other.setAttribute('aria-selected', String(selected));
      other.tabIndex = selected ? 0 : -1;
      const panel = $(other.getAttribute('aria-controls'));
      if (panel) panel.hidden = !selected;
    }
  }

  /** Arrow keys, Home and End move between tabs (WAI-ARIA tabs pattern). */
  function wireTablist(list) {
    list.addEventListener('click', (event) => {
      const tab = event.target.closest('[role=tab]');
      if (tab && list.contains(tab)) selectTab(tab);
    });
    list.addEventListener('keydown', (event) => {
      const tabs = [...list.querySelectorAll('[role=tab]')];
      const at = tabs.indexOf(document.activeElement);
      if (at < 0) return;
      let next = null;
      if (event.key === 'ArrowRight' || event.key === 'ArrowDown') next = (at + 1) % tabs.length;
      else if (event.key === 'ArrowLeft' || event.key === 'ArrowUp') next = (at - 1 + tabs.length) % tabs.length;
      else if (event.key === 'Home') next = 0;
      else if (event.key === 'End') next = tabs.length - 1;
      if (next === null) return;
      event.preventDefault();
      selectTab(tabs[next]);
      tabs[next].focus();
    });
  }

  // ---- creating ------------------------------------------------------------

  let pickCount = 0;

  function openCreate(opener) {
    returnFocus = opener;
    const form = $('create-form');
    form.reset();
    form.hidden = false;
    $('created').hidden = true;
    wipeSecret();
    for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    selectTab($('tab-cluster'));
    showError('create-error', '');
    $('collection-picks').replaceChildren();
    $('create-dialog').showModal();
    $('key-name').focus();
    loadPicks();
  }

  async function loadPicks() {
    const status = $('pick-status');
    status.textContent = 'Loading collections…';
    try {
      const result = await api('GET', '/collections');
      const names = (result.collections || []).map((c) => c.name).sort();
      $('collection-picks').replaceChildren(...names.map(pickItem));
      status.textContent = names.length
        ? `${names.length} collection${names.length === 1 ? '' : 's'} on this server.`
        : 'No collections yet: create one through the API first, or give the key cluster access.';
    } catch (error) {
      if (!endSessionOn401(error)) status.textContent = describe('Loading the collections', error);
    }
  }

  /** One collection in the Collections tab: include it, its access, its payload conditions. */
  function pickItem(name) {
    const n = ++pickCount;
    const check = el('input', { type: 'checkbox', id: `pick-${n}`, className: 'pick-check' });
    check.dataset.collection = name;
    const access = el(
      'select',
      { id: `pick-${n}-access`, className: 'pick-access', disabled: true },
      el('option', { value: 'read' }, 'Read'),
      el('option', { value: 'read-write' }, 'Read-write'),
    );
    const conditions = el('div', { className: 'conditions' });
    const add = el(
      'button',
      { type: 'button', className: 'secondary small', disabled: true, 'aria-label': `Add payload condition on ${name}` },
      'Add payload condition',
    );
    add.addEventListener('click', () => {
      const row = conditionRow(name, conditions);
      conditions.append(row);
      row.querySelector('.cond-key').focus();
    });
    check.addEventListener('change', () => {
      access.disabled = !check.checked;
      add.disabled = !check.checked;
      for (const control of conditions.querySelectorAll('input, select, button')) control.disabled = !check.checked;
    });
    return el(
      'li',
      { className: 'pick' },
      el(
        'div',
        { className: 'pick-head' },
        check,
        el('label', { for: check.id, className: 'pick-name' }, name),
        el('label', { for: access.id, className: 'visually-hidden' }, `Access to ${name}`),
        access,
      ),
      conditions,
      add,
    );
  }

  function conditionRow(collection, container) {
    const index = container.children.length + 1;
    const what = `condition ${index} on ${collection}`;
    const key = el('input', { type: 'text', className: 'cond-key', autocomplete: 'off', spellcheck: 'false', placeholder: 'tenant' });
    const type = el(
      'select',
      { className: 'cond-type' },
      el('option', { value: 'string' }, 'text'),
      el('option', { value: 'integer' }, 'integer'),
      el('option', { value: 'boolean' }, 'true / false'),
    );
    const value = el('input', { type: 'text', className: 'cond-value', autocomplete: 'off', spellcheck: 'false', placeholder: 'acme' });
    const remove = el('button', { type: 'button', className: 'secondary small', 'aria-label': `Remove ${what}` }, 'Remove');
    const row = el(
      'div',
      { className: 'condition', role: 'group', 'aria-label': `Payload ${what}` },
      el('label', {}, el('span', { className: 'cond-label' }, 'Payload key'), key),
      el('label', {}, el('span', { className: 'cond-label' }, 'Type'), type),
      el('label', {}, el('span', { className: 'cond-label' }, 'Value'), value),
      remove,
    );
    remove.addEventListener('click', () => {
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      const focusTarget = next ? next.querySelector('.cond-key') : container.nextElementSibling;
      if (focusTarget) focusTarget.focus();
    });
    return row;
  }

  class Invalid extends Error {
    constructor(message, field) {
      super(message);
      this.field = field;
    }
  }

  function parseValue(type, text, field) {
    if (type === 'integer') {
      if (!/^-?\d+$/.test(text.trim())) throw new Invalid('An integer value holds only digits (and a leading -).', field);
      const number = Number(text.trim());
      if (!Number.isSafeInteger(number)) throw new Invalid('That integer is too large.', field);
      return number;
    }
    if (type === 'boolean') {
      const word = text.trim().toLowerCase();
      if (word !== 'true' && word !== 'false') throw new Invalid('A true / false value is true or false.', field);
      return word === 'true';
    }
    return text;
  }

  /** The POST /api-keys body from the form; throws Invalid naming the field. */
  function buildRequest() {
    const nameInput = $('key-name');
    const name = nameInput.value.trim();
    if (!NAME_PATTERN.test(name) || !/\S/.test(name)) {
      throw new Invalid('The name needs 4 to 128 letters, digits, spaces, _ or -.', nameInput);
    }
    const request = { name };
    const expiresInput = $('key-expires');
    const expires = expiresInput.value.trim();
    if (expiresInput.validity.badInput) {
      throw new Invalid('Expiration is a whole number of days, or empty for no expiration.', expiresInput);
    }
    if (expires !== '') {
      const days = Number(expires);
      if (!Number.isInteger(days) || days < 1 || days > MAX_EXPIRES_IN_DAYS) {
        throw new Invalid(`Expiration is a whole number of days from 1 to ${MAX_EXPIRES_IN_DAYS}, or empty for no expiration.`, expiresInput);
      }
      request.expires_in_days = days;
    }
    if ($('tab-cluster').getAttribute('aria-selected') === 'true') {
      const choice = document.querySelector('input[name=cluster-access]:checked');
      request.access_rules = [{ global_access: { access_type: choice ? choice.value : 'manage' } }];
      return request;
    }
    const rules = [];
    for (const pick of $('collection-picks').querySelectorAll('.pick')) {
      const check = pick.querySelector('.pick-check');
      if (!check.checked) continue;
      const payload = {};
      for (const row of pick.querySelectorAll('.condition')) {
        const keyInput = row.querySelector('.cond-key');
        const key = keyInput.value.trim();
        const valueInput = row.querySelector('.cond-value');
        if (!key) throw new Invalid(`Give the payload key of each condition on ${check.dataset.collection}, or remove the condition.`, keyInput);
        if (Object.hasOwn(payload, key)) throw new Invalid(`The payload key ${key} appears twice on ${check.dataset.collection}.`, keyInput);
        payload[key] = parseValue(row.querySelector('.cond-type').value, valueInput.value, valueInput);
      }
      const rule = {
        collection_name: check.dataset.collection,
        access_type: pick.querySelector('.pick-access').value,
      };
      if (Object.keys(payload).length) rule.payload = payload;
      rules.push({ collection_access: rule });
    }
    if (!rules.length) {
      throw new Invalid('Pick at least one collection, or give the key cluster access in the Cluster tab.', $('tab-collections'));
    }
    request.access_rules = rules;
    return request;
  }

  async function submitCreate(event) {
    event.preventDefault();
    for (const input of $('create-form').querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    let request;
    try {
      request = buildRequest();
    } catch (error) {
      if (!(error instanceof Invalid)) throw error;
      showError('create-error', error.message);
      if (error.field) {
        if (error.field.getAttribute('role') !== 'tab') error.field.setAttribute('aria-invalid', 'true');
        error.field.focus();
      }
      return;
    }
    const button = $('create-submit');
    button.disabled = true;
    showError('create-error', '');
    try {
      const created = await api('POST', '/api-keys', request);
      showCreated(created);
      loadKeys();
    } catch (error) {
      if (!endSessionOn401(error)) {
        showError('create-error', describe('Creating the key', error));
        $('create-error').focus();
      }
    } finally {
      button.disabled = false;
    }
  }

  // ---- the new key, once ---------------------------------------------------

  /** Where the snippets point: this page's origin, with an explicit port. */
  function serverAddress() {
    const tls = window.location.protocol === 'https:';
    const restPort = Number(window.location.port) || (tls ? 443 : 80);
    // location.hostname keeps IPv6 brackets; host parameters want the bare address.
    const urlHost = window.location.hostname;
    const host = urlHost.replace(/^\[(.*)\]$/, '$1');
    const url = `${window.location.protocol}//${urlHost}:${restPort}`;
    const meta = document.querySelector('meta[name=osprey-grpc-port]');
    let grpcPort;
    let grpcNote;
    const servicePorts =
      'The Rust, Java, C# and Go clients speak gRPC; their snippets use port';
    if (meta && /^\d+$/.test(meta.content)) {
      grpcPort = Number(meta.content);
      grpcNote =
        `${servicePorts} ${grpcPort}, this server's configured service.grpc_port. ` +
        'If a proxy or port mapping sits in front of the server, use the port it exposes instead.';
    } else if (meta) {
      grpcPort = restPort + 1;
      grpcNote =
        'gRPC is turned off on this server (service.grpc_port is null), so the Rust, Java, C# and Go ' +
        `clients, which speak gRPC, cannot connect until it is on. Their snippets assume port ${grpcPort} (the REST port + 1).`;
    } else {
      grpcPort = restPort + 1;
      grpcNote = `${servicePorts} ${grpcPort}: an assumption (the REST port + 1). Use the server's service.grpc_port.`;
    }
    return { tls, host, url, grpcPort, grpcNote, grpcUrl: `${window.location.protocol}//${urlHost}:${grpcPort}` };
  }

  /** The snippets for `key` at `where`: each official client's own constructor. */
  function snippets(key, where) {
    const { tls, host, url, grpcPort, grpcUrl } = where;
    return [
      {
        id: 'curl',
        label: 'curl',
        about: 'The key in the api-key header.',
        code: `curl -s '${url}/collections' \\\n  --header 'api-key: ${key}'`,
      },
      {
        id: 'curl-bearer',
        label: 'curl (Bearer)',
        about: 'The same key as a bearer token; the server treats both forms alike.',
        code: `curl -s '${url}/collections' \\\n  --header 'Authorization: Bearer ${key}'`,
      },
      {
        id: 'python',
        label: 'Python',
        about: 'The official Python client, over REST.',
        install: 'pip install qdrant-client',
        code:
          'from qdrant_client import QdrantClient\n\n' +
          `client = QdrantClient(url="${url}", api_key="${key}")\n` +
          'print(client.get_collections())',
      },
      {
        id: 'typescript',
        label: 'TypeScript',
        about: 'The official TypeScript client, over REST.',
        install: 'npm install @qdrant/js-client-rest',
        code:
          'import { QdrantClient } from "@qdrant/js-client-rest";\n\n' +
          `const client = new QdrantClient({ url: "${url}", apiKey: "${key}" });\n` +
          'console.log(await client.getCollections());',
      },
      {
        id: 'rust',
        label: 'Rust',
        about: 'The official Rust client, over gRPC.',
        install: 'cargo add qdrant-client tokio --features tokio/full',
        code:
          'use qdrant_client::Qdrant;\n\n' +
          '#[tokio::main]\n' +
          'async fn main() -> Result<(), Box<dyn std::error::Error>> {\n' +
          `    let client = Qdrant::from_url("${grpcUrl}")\n` +
          `        .api_key("${key}")\n` +
          '        .build()?;\n' +
          '    println!("{:?}", client.list_collections().await?);\n' +
          '    Ok(())\n' +
          '}',
      },
      {
        id: 'java',
        label: 'Java',
        about: 'The official Java client, over gRPC.',
        install: 'Maven / Gradle: io.qdrant:client',
        code:
          'import io.qdrant.client.QdrantClient;\n' +
          'import io.qdrant.client.QdrantGrpcClient;\n\n' +
          'QdrantClient client =\n' +
          '    new QdrantClient(\n' +
          `        QdrantGrpcClient.newBuilder("${host}", ${grpcPort}, ${tls})\n` +
          `            .withApiKey("${key}")\n` +
          '            .build());\n' +
          'System.out.println(client.listCollectionsAsync().get());',
      },
      {
        id: 'csharp',
        label: 'C#',
        about: 'The official .NET client, over gRPC.',
        install: 'dotnet add package Qdrant.Client',
        code:
          'using Qdrant.Client;\n\n' +
          `var client = new QdrantClient(host: "${host}", port: ${grpcPort}, https: ${tls}, apiKey: "${key}");\n` +
          'Console.WriteLine(string.Join(", ", await client.ListCollectionsAsync()));',
      },
      {
        id: 'go',
        label: 'Go',
        about: 'The official Go client, over gRPC.',
        install: 'go get github.com/qdrant/go-client',
        code:
          'package main\n\n' +
          'import (\n\t"context"\n\t"fmt"\n\n\t"github.com/qdrant/go-client/qdrant"\n)\n\n' +
          'func main() {\n' +
          '\tclient, err := qdrant.NewClient(&qdrant.Config{\n' +
          `\t\tHost:   "${host}",\n` +
          `\t\tPort:   ${grpcPort},\n` +
          `\t\tAPIKey: "${key}",\n` +
          `\t\tUseTLS: ${tls},\n` +
          '\t})\n' +
          '\tif err != nil {\n\t\tpanic(err)\n\t}\n' +
          '\tdefer client.Close()\n' +
          '\tnames, err := client.ListCollections(context.Background())\n' +
          '\tif err != nil {\n\t\tpanic(err)\n\t}\n' +
          '\tfmt.Println(names)\n' +
          '}',
      },
    ];
  }

  /** Pending "Copied" → "Copy" resets, by button. */
  const copyResets = new WeakMap();

  function resetCopyButton(button) {
    window.clearTimeout(copyResets.get(button));
    copyResets.delete(button);
    button.textContent = 'Copy';
  }

  async function copyText(text, button, what) {
    let copied = false;
    try {
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch {
      copied = false;
    }
    button.textContent = copied ? 'Copied' : 'Copy failed: select and copy by hand';
    announce(copied ? `${what} copied to the clipboard.` : `Copying failed. Select the ${what.toLowerCase()} and copy it by hand.`);
    window.clearTimeout(copyResets.get(button));
    copyResets.set(
      button,
      window.setTimeout(() => resetCopyButton(button), 4000),
    );
  }

  function showCreated(created) {
    $('create-form').hidden = true;
    $('created').hidden = false;
    $('new-key-name').textContent = `“${created.name}”`;
    const keyInput = $('new-key');
    keyInput.value = created.key;
    const where = serverAddress();
    $('server-url').textContent = where.url;
    $('grpc-note').textContent = where.grpcNote;

    const tabs = $('snippet-tabs');
    const panels = $('snippet-panels');
    const list = snippets(created.key, where);
    tabs.replaceChildren(
      ...list.map((s, i) =>
        el(
          'button',
          {
            type: 'button',
            role: 'tab',
            id: `snippet-tab-${s.id}`,
            'aria-controls': `snippet-panel-${s.id}`,
            'aria-selected': String(i === 0),
            tabindex: i === 0 ? '0' : '-1',
          },
          s.label,
        ),
      ),
    );
    panels.replaceChildren(
      ...list.map((s, i) => {
        const copy = el('button', { type: 'button', className: 'secondary small', 'aria-label': `Copy the ${s.label} snippet` }, 'Copy');
        copy.addEventListener('click', () => copyText(s.code, copy, `${s.label} snippet`));
        return el(
          'div',
          {
            role: 'tabpanel',
            id: `snippet-panel-${s.id}`,
            'aria-labelledby': `snippet-tab-${s.id}`,
            className: 'snippet',
            hidden: i !== 0,
          },
          el(
            'div',
            { className: 'snippet-head' },
            el('p', { className: 'help' }, s.about, s.install ? [' Install: ', el('code', {}, s.install)] : null),
            copy,
          ),
          el('pre', { tabindex: '0', 'aria-label': `${s.label} code` }, el('code', { 'data-snippet': s.id }, s.code)),
        );
      }),
    );
    announce(`API key ${created.name} created. Copy it now: it will not be shown again.`);
    $('created-title').focus();
  }

  /** Forgets the shown secret: nothing of it stays in the page once the dialog closes. */
  function wipeSecret() {
    $('new-key').value = '';
    resetCopyButton($('copy-key'));
    $('new-key-name').textContent = '';
    $('snippet-tabs').replaceChildren();
    $('snippet-panels').replaceChildren();
  }

  // ---- collections ---------------------------------------------------------

  function describeVectors(params) {
    const parts = [];
    const vectors = params && params.vectors;
    const one = (v) => {
      let text = `${v.size} dims, ${v.distance}`;
      if (v.multivector_config) text += ', multivector';
      if (v.on_disk) text += ', on disk';
      return text;
    };
    if (vectors && typeof vectors.size === 'number') {
      parts.push(one(vectors));
    } else if (vectors) {
      for (const [name, v] of Object.entries(vectors)) parts.push(`${name}: ${one(v)}`);
    }
    for (const name of Object.keys((params && params.sparse_vectors) || {})) parts.push(`${name}: sparse`);
    return parts.length ? parts : ['no vectors'];
  }

  async function loadCollections() {
    const table = $('collections-table');
    table.setAttribute('aria-busy', 'true');
    try {
      const result = await api('GET', '/collections');
      const names = (result.collections || []).map((c) => c.name).sort();
      const infos = await Promise.all(
        names.map((name) =>
          api('GET', `/collections/${encodeURIComponent(name)}`).then(
            (info) => ({ name, info }),
            (error) => ({ name, error }),
          ),
        ),
      );
      const unauthorized = infos.find((i) => i.error && i.error.status === 401);
      if (unauthorized && endSessionOn401(unauthorized.error)) return;
      const rows = infos.map(({ name, info, error }) => {
        if (error) {
          return el(
            'tr',
            { 'data-collection': name },
            el('th', { scope: 'row', 'data-label': 'Name' }, name),
            el('td', { 'data-label': 'Details', colspan: '3', className: 'error-text' }, describe('Reading this collection', error)),
          );
        }
        const vectors = describeVectors(info.config && info.config.params);
        const points = typeof info.points_count === 'number' ? info.points_count.toLocaleString() : 'unknown';
        return el(
          'tr',
          { 'data-collection': name },
          el('th', { scope: 'row', 'data-label': 'Name' }, name),
          el('td', { 'data-label': 'Points' }, points),
          el('td', { 'data-label': 'Status' }, el('span', { className: `badge badge-${info.status}` }, info.status)),
          el('td', { 'data-label': 'Vectors' }, vectors.length === 1 ? vectors[0] : el('ul', { className: 'rules' }, vectors.map((v) => el('li', {}, v)))),
        );
      });
      $('collections-body').replaceChildren(...rows);
      $('collections-empty').hidden = names.length > 0;
      table.hidden = names.length === 0;
      showError('collections-error', '');
    } catch (error) {
      if (!endSessionOn401(error)) showError('collections-error', describe('Loading the collections', error));
    } finally {
      table.removeAttribute('aria-busy');
    }
  }

  // ---- wiring --------------------------------------------------------------

  function restoreFocus() {
    const target = returnFocus;
    returnFocus = null;
    if (rootKey === null) return;
    if (target && document.contains(target) && !target.closest('[hidden]')) target.focus();
    else $('keys-title').focus();
  }

  function init() {
    $('sign-in-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const key = $('root-key').value.trim();
      if (!key) {
        showSignIn('Enter the root API key.');
        return;
      }
      signIn(key);
    });
    $('sign-out').addEventListener('click', () => signOut(''));
    for (const link of document.querySelectorAll('.nav-link')) {
      link.addEventListener('click', () => showView(link.dataset.view, { focus: true }));
    }
    $('refresh-keys').addEventListener('click', loadKeys);
    $('refresh-collections').addEventListener('click', loadCollections);
    $('enable-granular').addEventListener('click', enableGranular);
    $('create-key').addEventListener('click', (event) => openCreate(event.currentTarget));
    $('create-form').addEventListener('submit', submitCreate);
    $('create-cancel').addEventListener('click', () => $('create-dialog').close());
    $('created-done').addEventListener('click', () => $('create-dialog').close());
    $('copy-key').addEventListener('click', (event) => copyText($('new-key').value, event.currentTarget, 'API key'));
    $('create-dialog').addEventListener('close', () => {
      wipeSecret();
      restoreFocus();
    });
    $('revoke-cancel').addEventListener('click', () => $('revoke-dialog').close());
    $('revoke-confirm').addEventListener('click', confirmRevoke);
    $('revoke-dialog').addEventListener('close', () => {
      revokeTarget = null;
      restoreFocus();
    });
    wireTablist(document.querySelector('#create-form [role=tablist]'));
    wireTablist($('snippet-tabs'));

    const saved = sessionStorage.getItem(STORAGE_KEY);
    if (saved) signIn(saved);
    else showSignIn('');
  }

  init();
})();
