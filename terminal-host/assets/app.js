// bitconn terminal page: token -> WebSocket -> xterm.js, with resize, flow control and clear end-of-session messages.
(() => {
  'use strict';

  // Output handed to xterm but not yet rendered; above HIGH_WATER the host is asked to pause.
  const HIGH_WATER = 512 * 1024;
  const LOW_WATER = 64 * 1024;
  // Keeps proxies from closing a quiet connection (the host's idle timeout counts keystrokes only).
  const PING_INTERVAL_MS = 25000;

  const $ = (id) => document.getElementById(id);
  const form = $('token-form');
  const tokenInput = $('token');
  const message = $('message');
  const status = $('status');
  const disconnectButton = $('disconnect');
  const container = $('terminal');
  const encoder = new TextEncoder();

  const term = new Terminal({ cursorBlink: true, scrollback: 5000, fontSize: 14,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace' });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(container);
  fit.fit();
  // Read-only hook for the browser test and for debugging from the console.
  window.bitconnTerminal = term;

  let socket = null;
  let subscriptions = [];
  let pingTimer = null;
  let pending = 0;
  let paused = false;
  let lastExit = null;
  let userClosed = false;

  const setStatus = (text, state) => {
    status.textContent = text;
    status.dataset.state = state;
  };

  const showForm = (text, kind) => {
    form.hidden = false;
    message.textContent = text || '';
    message.className = 'message' + (kind ? ' ' + kind : '');
    tokenInput.value = '';
    tokenInput.focus();
    disconnectButton.hidden = true;
  };

  // A token in the fragment (`/#token=...`) never reaches the server's logs; drop it from the address bar.
  const tokenFromFragment = () => {
    const token = new URLSearchParams(location.hash.slice(1)).get('token');
    if (location.hash) history.replaceState(null, '', location.pathname);
    return token;
  };

  const sendJson = (msg) => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg));
  };
  // A large paste goes out in slices: the host refuses single messages over 1 MiB.
  const INPUT_SLICE = 64 * 1024;
  const sendBytes = (bytes) => {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    for (let i = 0; i < bytes.length; i += INPUT_SLICE) socket.send(bytes.subarray(i, i + INPUT_SLICE));
  };

  const cleanup = () => {
    subscriptions.forEach((s) => s.dispose());
    subscriptions = [];
    clearInterval(pingTimer);
    pingTimer = null;
    pending = 0;
    paused = false;
  };

  const write = (bytes) => {
    pending += bytes.length;
    if (!paused && pending > HIGH_WATER) {
      paused = true;
      sendJson({ type: 'pause' });
    }
    term.write(bytes, () => {
      pending -= bytes.length;
      if (paused && pending < LOW_WATER) {
        paused = false;
        sendJson({ type: 'resume' });
      }
    });
  };

  const control = (msg) => {
    if (msg.type === 'ready') {
      setStatus(`connected as ${msg.user} (${msg.mode})`, 'connected');
      disconnectButton.hidden = false;
    } else if (msg.type === 'exit') {
      lastExit = msg;
    } else if (msg.type === 'error') {
      message.textContent = msg.message || msg.error;
    }
  };

  const endMessage = (code, reason) => {
    const status = lastExit ? ` (exit status ${lastExit.code}${lastExit.signal ? ', ' + lastExit.signal : ''})` : '';
    if (code === 1008) {
      return ['error', 'authentication failed',
        `Authentication failed (${reason || 'refused'}). Tokens are single-use and short-lived: paste a fresh one.`];
    }
    if (code === 1013) return ['error', 'host busy', 'Every terminal slot is in use. Try again later with a fresh token.'];
    if (code === 1011) return ['error', 'shell failed', 'The shell could not be started on the host.'];
    if (code === 1000 && reason === 'shell_exited') {
      return ['ended', 'shell exited' + status, 'The shell exited' + status + '. Paste a fresh token to start a new one.'];
    }
    if (code === 1000 && reason === 'idle_timeout') {
      return ['ended', 'closed after inactivity', 'The session was closed after a period without input. Paste a fresh token to reconnect.'];
    }
    if (code === 1000 && reason === 'max_session_length') {
      return ['ended', 'session time limit reached', 'The session reached its maximum length. Paste a fresh token to reconnect.'];
    }
    if (code === 1000 && reason === 'server_shutdown') {
      return ['ended', 'host shut down', 'The terminal host is shutting down. Paste a fresh token to reconnect.'];
    }
    return ['error', 'connection lost', 'Connection lost. Paste a fresh token to reconnect.'];
  };

  const connect = (token) => {
    form.hidden = true;
    message.textContent = '';
    lastExit = null;
    userClosed = false;
    term.reset();
    fit.fit();
    setStatus('connecting...', 'connecting');
    // Relative to the page, so the host also works behind a proxy under a path prefix (/terminal/ -> /terminal/ws).
    const url = new URL('ws', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.search = '';
    url.hash = '';
    const ws = new WebSocket(url.href);
    ws.binaryType = 'arraybuffer';
    socket = ws;

    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'auth', token, rows: term.rows, cols: term.cols }));
      // Keystrokes typed before the shell is up are queued by the host, not dropped.
      subscriptions.push(term.onData((data) => sendBytes(encoder.encode(data))));
      subscriptions.push(term.onBinary((data) => sendBytes(Uint8Array.from(data, (c) => c.charCodeAt(0)))));
      subscriptions.push(term.onResize(({ rows, cols }) => sendJson({ type: 'resize', rows, cols })));
      pingTimer = setInterval(() => sendJson({ type: 'ping' }), PING_INTERVAL_MS);
      term.focus();
    };
    ws.onmessage = (event) => {
      if (typeof event.data === 'string') {
        try { control(JSON.parse(event.data)); } catch (e) { /* not ours: ignore */ }
      } else {
        write(new Uint8Array(event.data));
      }
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      cleanup();
      if (userClosed) {
        setStatus('not connected', 'idle');
        showForm('Disconnected. Paste a fresh token to connect again.', 'info');
        return;
      }
      let reason = '';
      try { reason = JSON.parse(event.reason || '{}').reason || ''; } catch (e) { reason = event.reason; }
      const [state, short, long] = endMessage(event.code, reason);
      term.write(`\r\n\x1b[33m[${short}]\x1b[0m\r\n`);
      setStatus(short, state);
      showForm(long, state === 'ended' ? 'info' : '');
    };
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = tokenInput.value.trim();
    if (token) connect(token);
    else showForm('Paste a token first.', '');
  });
  disconnectButton.addEventListener('click', () => {
    if (!socket) return;
    userClosed = true;
    socket.close(1000);
  });
  new ResizeObserver(() => fit.fit()).observe(container);
  window.addEventListener('beforeunload', () => { if (socket) socket.close(1000); });

  const token = tokenFromFragment();
  if (token) connect(token);
  else showForm('', '');
})();
