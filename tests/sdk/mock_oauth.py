"""A mock of subscription services' authorization, token, usage and API
servers, following the real protocols: authorization code with PKCE S256
(RFC 7636), the device authorization grant (RFC 8628) with pending and
slow_down answers, refresh tokens that rotate (each is single use), GitHub
Copilot's token exchange, and API endpoints that refuse expired tokens.
Google (the Gemini CLI's login) is strict like the real one: an installed-app
client secret is required, unknown token parameters are refused, and refresh
tokens are not rotated; behind it, Code Assist's loadCodeAssist, onboardUser
with a long-running operation, the `{model, project, request}` envelope and
retrieveUserQuota. OpenAI's device authorization for Codex. iFlow's sign-in
(phone login, Basic-authenticated token endpoint, API key from the user
info) and its signed chat API. Kiro: AWS SSO OIDC (RegisterClient, StartDeviceAuthorization
and CreateToken, JSON in camelCase, pending answers as 400s), Kiro's social
refresh endpoint, CodeWhisperer's generateAssistantResponse answering in
real AWS event-stream frames (prelude, string headers, payload, both CRC32s),
cut into pieces that straddle frame boundaries, and its GetUsageLimits (the
Kiro IDE's GET with origin and resourceType, credits with a free trial).

Tests point Switchyard at it with `endpoints.json` in the data directory."""

import base64
import hashlib
import hmac
import http.server
import itertools
import json
import threading
import time
import urllib.parse

from mock_upstreams import kiro_event  # AWS event-stream frames, as the upstream mocks write them

EMAIL = "dev@example.com"
CODEX_ACCOUNT = "acct-123"
GOOGLE_CLIENT_ID = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
GOOGLE_CLIENT_SECRET = "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"
# Antigravity's own Google client and its registered redirects.
ANTIGRAVITY_CLIENT_ID = "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com"
ANTIGRAVITY_CLIENT_SECRET = "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"
ANTIGRAVITY_REDIRECTS = ("http://localhost:51121/oauth-callback", "http://localhost:51122/oauth-callback")
GOOGLE_CLIENTS = {GOOGLE_CLIENT_ID: GOOGLE_CLIENT_SECRET, ANTIGRAVITY_CLIENT_ID: ANTIGRAVITY_CLIENT_SECRET}
GOOGLE_PROJECT = "proj-free-123"
GOOGLE_TOKEN_PARAMETERS = {
    "authorization_code": {"grant_type", "code", "redirect_uri", "client_id", "client_secret", "code_verifier"},
    "refresh_token": {"grant_type", "refresh_token", "client_id", "client_secret"},
}


KIRO_START_URL = "https://view.awsapps.com/start"
CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
IFLOW_CLIENT_ID = "10009311001"
IFLOW_CLIENT_SECRET = "4Z3YjXycVsQvyGF1etiNlIBB4RsqSDtW"
IFLOW_PHONE = "138****8000"
OPENAI_DEVICE_REDIRECT = "https://auth.openai.com/deviceauth/callback"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims):
    return f"{b64url(b'{}')}.{b64url(json.dumps(claims).encode())}.sig"


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.counter = itertools.count(1)
        self.codes = {}          # code -> (challenge, redirect_uri)
        self.access = {}         # token -> expires (epoch s)
        self.refresh = set()     # valid refresh tokens
        self.copilot = {}        # copilot token -> expires
        self.device_polls = 0
        self.refreshes = 0
        self.access_ttl = 7200
        self.device_script = ["authorization_pending", "slow_down"]
        self.requests = []       # (path, headers dict, body)
        self.email = EMAIL       # whose account the next login is
        self.owner = {}          # refresh token -> email
        self.onboarded = False   # Code Assist: whether onboardUser ran
        self.owner_of_access = {}  # Google access token -> email
        self.aws_clients = {}    # registered clientId -> clientSecret
        self.aws_devices = {}    # deviceCode -> clientId
        self.kiro_requests = []  # generateAssistantResponse bodies
        self.kiro_credits_used = 50.0   # plan credits spent of 50
        self.kiro_trial_used = 100.0    # free-trial credits spent of 500
        self.kiro_usage_queries = []    # GetUsageLimits query strings
        self.openai_devices = {}        # device_auth_id -> user code
        self.claude_calls = []          # Messages calls: (query, lower-case headers, body)
        self.extra_usage = set()        # Claude accounts whose tool use is billed as (spent) extra usage
        self.iflow_keys = set()         # valid iFlow API keys
        self.iflow_key_of = {}          # iFlow access token -> its account's API key
        self.iflow_calls = []           # chat bodies iFlow accepted
        self.operation_polls = 0
        self.copilot_exchanges = 0
        self.clock_offset = 0           # seconds GitHub's clock is ahead of ours (negative: behind)

    def issue(self, extra=None):
        n = next(self.counter)
        access, refresh = f"at-{n}", f"rt-{n}"
        self.access[access] = time.time() + self.access_ttl
        self.refresh.add(refresh)
        self.owner[refresh] = email = (extra or {}).pop("email", None) or self.email
        self.owner_of_access[access] = email
        body = {"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": self.access_ttl,
                "id_token": jwt({"email": email, "https://api.openai.com/auth": {"chatgpt_account_id": CODEX_ACCOUNT, "chatgpt_plan_type": "plus"}}),
                "account": {"uuid": f"uuid-{email}", "email_address": email}, "resource_url": None}
        body.update(extra or {})
        return body

    def expire_access_tokens(self):
        with self.lock:
            for token in self.access:
                self.access[token] = 0

    def revoke_refresh_tokens(self, email=None):
        with self.lock:
            self.refresh = {t for t in self.refresh if email is not None and self.owner.get(t) != email}

    def valid(self, token):
        return self.access.get(token, 0) > time.time()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None
    base = None

    def log_message(self, *args):
        pass

    def _reply(self, status, body, content_type="application/json", headers=()):
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return json.loads(raw) if raw else {}
        return dict(urllib.parse.parse_qsl(raw))

    def _bearer(self):
        return self.headers.get("Authorization", "").removeprefix("Bearer ")

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        state = Handler.state
        if url.path == "/authorize":
            missing = [k for k in ("client_id", "redirect_uri", "code_challenge", "state") if k not in query]
            if missing or query.get("code_challenge_method") != "S256" or query.get("response_type") != "code":
                return self._reply(400, {"error": "invalid_request", "missing": missing})
            code = f"code-{next(state.counter)}"
            state.codes[code] = (query["code_challenge"], query["redirect_uri"])
            location = f"{query['redirect_uri']}?{urllib.parse.urlencode({'code': code, 'state': query['state']})}"
            return self._reply(302, "", "text/plain", [("Location", location)])
        if url.path == "/google/auth":
            # Google's installed-app rules: a loopback IP redirect, offline access.
            redirect_ok = (query.get("redirect_uri", "").startswith("http://127.0.0.1:") if query.get("client_id") == GOOGLE_CLIENT_ID
                           else query.get("redirect_uri") in ANTIGRAVITY_REDIRECTS)
            if (query.get("client_id") not in GOOGLE_CLIENTS or not redirect_ok
                    or query.get("access_type") != "offline" or "cloud-platform" not in query.get("scope", "")
                    or query.get("code_challenge_method") != "S256" or "state" not in query):
                return self._reply(400, {"error": "invalid_request"})
            code = f"4/code-{next(state.counter)}"
            state.codes[code] = (query["code_challenge"], query["redirect_uri"])
            location = f"{query['redirect_uri']}?{urllib.parse.urlencode({'state': query['state'], 'code': code, 'scope': query['scope']})}"
            return self._reply(302, "", "text/plain", [("Location", location)])
        if url.path == "/google/userinfo":
            if not state.valid(self._bearer()):
                return self._reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
            return self._reply(200, {"id": "1", "email": state.owner_of_access.get(self._bearer(), state.email), "verified_email": True})
        if url.path.startswith("/codeassist/v1internal/operations/"):
            if not state.valid(self._bearer()):
                return self.google_unauthenticated()
            state.operation_polls += 1
            state.onboarded = True
            return self._reply(200, {"name": url.path.removeprefix("/codeassist/v1internal/"), "done": True,
                                     "response": {"@type": "type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse",
                                                  "cloudaicompanionProject": {"id": GOOGLE_PROJECT, "name": "Free project"}}})
        if url.path == "/copilot_internal/v2/token":
            token = self.headers.get("Authorization", "").removeprefix("token ")
            if not state.valid(token):
                return self._reply(401, {"message": "Bad credentials"})
            copilot = f"cop-{next(state.counter)}"
            state.copilot_exchanges += 1
            state.copilot[copilot] = time.time() + 1800
            # expires_at is on GitHub's clock; refresh_in is relative.
            return self._reply(200, {"token": copilot, "expires_at": int(time.time() + state.clock_offset) + 1800, "refresh_in": 1500,
                                     "endpoints": {"api": f"{Handler.base}/copilot"}})
        if url.path == "/iflow/oauth":
            # iFlow's sign-in page: phone login, the callback named `redirect`, no PKCE.
            if (query.get("client_id") != IFLOW_CLIENT_ID or query.get("loginMethod") != "phone"
                    or not query.get("redirect", "").startswith("http://localhost:") or "state" not in query):
                return self._reply(400, {"success": False, "message": "bad request"})
            code = f"iflow-code-{next(state.counter)}"
            state.codes[code] = (None, query["redirect"])
            location = f"{query['redirect']}?{urllib.parse.urlencode({'code': code, 'state': query['state']})}"
            return self._reply(302, "", "text/plain", [("Location", location)])
        if url.path == "/iflow/api/oauth/getUserInfo":
            key = state.iflow_key_of.get(query.get("accessToken"))
            if not key or not state.valid(query.get("accessToken")):
                return self._reply(200, {"success": False, "code": "401", "message": "token invalid", "data": None})
            return self._reply(200, {"success": True, "code": "200", "message": "success",
                                     "data": {"apiKey": key, "email": "", "phone": IFLOW_PHONE, "nickname": "dev"}})
        if url.path == "/kiro/api/getUsageLimits":
            return self.kiro_usage(query)
        if url.path == "/claude/usage":
            if not state.valid(self._bearer()) or "oauth-2025-04-20" not in self.headers.get("anthropic-beta", ""):
                return self._reply(401, {"type": "error", "error": {"type": "authentication_error", "message": "bad token"}})
            return self._reply(200, {"five_hour": {"utilization": 42.0, "resets_at": "2030-01-01T17:00:00+00:00"},
                                     "seven_day": {"utilization": 10.0, "resets_at": "2030-01-05T00:00:00+00:00"},
                                     "seven_day_opus": None})
        return self._reply(404, {"error": "not found"})

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        state = Handler.state
        body = self._body()
        with state.lock:
            state.requests.append((url.path, dict(self.headers), body))
        if url.path.startswith("/aws/oidc/"):
            return self.aws_oidc(url.path.removeprefix("/aws/oidc/"), body)
        if url.path == "/kiro/auth/refreshToken":
            return self.kiro_social_refresh(body)
        if url.path == "/kiro/api/generateAssistantResponse":
            return self.kiro(body)
        if url.path == "/google/token":
            return self.google_token(body)
        if url.path.startswith("/codeassist/v1internal:"):
            return self.code_assist(url.path.removeprefix("/codeassist/v1internal:"), dict(urllib.parse.parse_qsl(url.query)), body)
        if url.path == "/iflow/oauth/token":
            return self.iflow_token(body)
        if url.path == "/iflow/v1/chat/completions":
            return self.iflow_chat(body)
        if url.path in ("/token", "/github/token"):
            return self.token(body, github=url.path.startswith("/github"))
        if url.path.startswith("/api/accounts/deviceauth/"):
            return self.openai_device(url.path.removeprefix("/api/accounts/deviceauth/"), body)
        if url.path == "/device/code":
            if "client_id" not in body:
                return self._reply(400, {"error": "invalid_client"})
            return self._reply(200, {"device_code": "dev-1", "user_code": "WDJB-MJHT", "verification_uri": f"{Handler.base}/device",
                                     "expires_in": 120, "interval": 1})
        if url.path == "/claude/v1/messages":
            with state.lock:
                state.claude_calls.append((url.query, {k.lower(): v for k, v in self.headers.items()}, body))
            return self.claude(body)
        if url.path == "/codex/responses":
            return self.codex(body)
        if url.path == "/copilot/chat/completions":
            if state.copilot.get(self._bearer(), 0) < time.time() or self.headers.get("Copilot-Integration-Id") != "vscode-chat":
                return self._reply(401, {"error": {"message": "unauthorized"}})
            return self._reply(200, {"id": "c1", "object": "chat.completion", "created": 1, "model": body["model"],
                                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi from copilot"}, "finish_reason": "stop"}],
                                     "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})
        return self._reply(404, {"error": "not found"})

    def token(self, body, github):
        state = Handler.state
        grant = body.get("grant_type")
        with state.lock:
            if grant == "authorization_code":
                challenge, redirect = state.codes.pop(body.get("code"), (None, None))
                verifier = body.get("code_verifier", "")
                if challenge is None or b64url(hashlib.sha256(verifier.encode()).digest()) != challenge or redirect != body.get("redirect_uri"):
                    return self._reply(400, {"error": "invalid_grant", "error_description": "bad code or verifier"})
                return self._reply(200, state.issue())
            if grant == "refresh_token":
                state.refreshes += 1
                token = body.get("refresh_token")
                if token not in state.refresh:
                    return self._reply(400, {"error": "invalid_grant", "error_description": "refresh token revoked or reused"})
                state.refresh.discard(token)  # single use: rotates
                return self._reply(200, state.issue({"email": state.owner.get(token)}))
            if grant == "urn:ietf:params:oauth:grant-type:device_code":
                state.device_polls += 1
                if state.device_script:
                    error = state.device_script.pop(0)
                    # GitHub answers pending polls with 200; RFC 8628 servers with 400.
                    return self._reply(200 if github else 400, {"error": error})
                return self._reply(200, state.issue({"resource_url": "qwen.example"}))
        return self._reply(400, {"error": "unsupported_grant_type"})

    def google_token(self, body):
        state = Handler.state
        grant = body.get("grant_type")
        allowed = GOOGLE_TOKEN_PARAMETERS.get(grant)
        if allowed is None:
            return self._reply(400, {"error": "unsupported_grant_type", "error_description": f"Invalid grant_type: {grant}"})
        unknown = sorted(set(body) - allowed)
        if unknown:
            return self._reply(400, {"error": "invalid_request", "error_description": f"Parameter not allowed for this message type: {unknown[0]}"})
        if GOOGLE_CLIENTS.get(body.get("client_id")) != body.get("client_secret"):
            return self._reply(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        with state.lock:
            if grant == "authorization_code":
                challenge, redirect = state.codes.pop(body.get("code"), (None, None))
                verifier = body.get("code_verifier", "")
                if challenge is None or b64url(hashlib.sha256(verifier.encode()).digest()) != challenge or redirect != body.get("redirect_uri"):
                    return self._reply(400, {"error": "invalid_grant", "error_description": "Bad Request"})
                issued = state.issue()
                state.owner_of_access[issued["access_token"]] = state.email
                return self._reply(200, {k: issued[k] for k in ("access_token", "refresh_token", "expires_in", "token_type")}
                                   | {"scope": "https://www.googleapis.com/auth/cloud-platform openid"})
            state.refreshes += 1
            token = body.get("refresh_token")
            if token not in state.refresh:
                return self._reply(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
            # Google does not rotate refresh tokens: the same one stays valid.
            n = next(state.counter)
            access = f"ya29.at-{n}"
            state.access[access] = time.time() + state.access_ttl
            state.owner_of_access[access] = state.owner.get(token, state.email)
            return self._reply(200, {"access_token": access, "expires_in": state.access_ttl, "token_type": "Bearer",
                                     "scope": "https://www.googleapis.com/auth/cloud-platform"})

    def aws_error(self, status, error, description, kind):
        return self._reply(status, {"error": error, "error_description": description}, headers=[("x-amzn-ErrorType", kind)])

    def aws_oidc(self, operation, body):
        """AWS SSO OIDC, restJson1: camelCase JSON bodies, errors as {error, error_description}."""
        state = Handler.state
        if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return self.aws_error(400, "invalid_request", "JSON expected", "InvalidRequestException")
        with state.lock:
            if operation == "client/register":
                if body.get("clientType") != "public" or not body.get("clientName") or "codewhisperer:conversations" not in body.get("scopes", []):
                    return self.aws_error(400, "invalid_client_metadata", "bad registration", "InvalidClientMetadataException")
                n = next(state.counter)
                client_id, secret = f"client-{n}", f"client-secret-{n}"
                state.aws_clients[client_id] = secret
                return self._reply(200, {"clientId": client_id, "clientSecret": secret, "clientIdIssuedAt": int(time.time()),
                                         "clientSecretExpiresAt": int(time.time()) + 90 * 86400})
            if state.aws_clients.get(body.get("clientId")) != body.get("clientSecret"):
                return self.aws_error(401, "invalid_client", "unknown client", "InvalidClientException")
            if operation == "device_authorization":
                if body.get("startUrl") != KIRO_START_URL:
                    return self.aws_error(400, "invalid_request", "bad start URL", "InvalidRequestException")
                state.aws_devices["aws-device-1"] = body["clientId"]
                return self._reply(200, {"deviceCode": "aws-device-1", "userCode": "KIRO-CODE", "verificationUri": f"{Handler.base}/aws/device",
                                         "verificationUriComplete": f"{Handler.base}/aws/device?user_code=KIRO-CODE", "expiresIn": 600, "interval": 1})
            if operation != "token":
                return self._reply(404, {"message": "not found"})
            grant = body.get("grantType")
            if grant == "urn:ietf:params:oauth:grant-type:device_code":
                if state.aws_devices.get(body.get("deviceCode")) != body["clientId"]:
                    return self.aws_error(400, "invalid_grant", "unknown device code", "InvalidGrantException")
                state.device_polls += 1
                if state.device_script:
                    error = state.device_script.pop(0)
                    kind = "AuthorizationPendingException" if error == "authorization_pending" else "SlowDownException"
                    return self.aws_error(400, error, None, kind)
            elif grant == "refresh_token":
                state.refreshes += 1
                token = body.get("refreshToken")
                if token not in state.refresh:
                    return self.aws_error(400, "invalid_grant", "Invalid refresh token provided", "InvalidGrantException")
                state.refresh.discard(token)
            else:
                return self.aws_error(400, "unsupported_grant_type", None, "UnsupportedGrantTypeException")
            issued = state.issue()
            return self._reply(200, {"accessToken": issued["access_token"], "tokenType": "Bearer", "expiresIn": state.access_ttl,
                                     "refreshToken": issued["refresh_token"]})

    def iflow_token(self, body):
        """iFlow's token endpoint: the client id and secret both as HTTP Basic
        authentication and in the form; each access token comes with an API key."""
        state = Handler.state
        basic = "Basic " + base64.b64encode(f"{IFLOW_CLIENT_ID}:{IFLOW_CLIENT_SECRET}".encode()).decode()
        if (self.headers.get("Authorization") != basic or body.get("client_id") != IFLOW_CLIENT_ID
                or body.get("client_secret") != IFLOW_CLIENT_SECRET):
            return self._reply(401, {"error": "invalid_client"})
        with state.lock:
            grant = body.get("grant_type")
            if grant == "authorization_code":
                _, redirect = state.codes.pop(body.get("code"), (None, None))
                if redirect is None or redirect != body.get("redirect_uri"):
                    return self._reply(400, {"error": "invalid_grant"})
                issued = state.issue()
            elif grant == "refresh_token":
                state.refreshes += 1
                token = body.get("refresh_token")
                if token not in state.refresh:
                    return self._reply(400, {"error": "invalid_grant"})
                state.refresh.discard(token)
                issued = state.issue({"email": state.owner.get(token)})
            else:
                return self._reply(400, {"error": "unsupported_grant_type"})
            key = f"sk-iflow-{next(state.counter)}"
            state.iflow_keys.add(key)
            state.iflow_key_of[issued["access_token"]] = key
        return self._reply(200, {k: issued[k] for k in ("access_token", "refresh_token", "expires_in", "token_type")}
                           | {"scope": "read"})

    def iflow_chat(self, body):
        """apis.iflow.cn: the API key as bearer, and the iFlow CLI's signature over
        user agent, session and millisecond time, keyed with that API key."""
        state = Handler.state
        key = self._bearer()
        agent, session = self.headers.get("User-Agent", ""), self.headers.get("session-id", "")
        stamp = self.headers.get("x-iflow-timestamp", "0")
        expected = hmac.new(key.encode(), f"{agent}:{session}:{stamp}".encode(), hashlib.sha256).hexdigest()
        if key not in state.iflow_keys:
            return self._reply(401, {"error": {"message": "Invalid API key", "type": "invalid_request_error"}})
        if (agent != "iFlow-Cli" or not session.startswith("session-") or abs(time.time() * 1000 - int(stamp)) > 300_000
                or self.headers.get("x-iflow-signature") != expected):
            return self._reply(403, {"error": {"message": "signature verification failed"}})
        with state.lock:
            state.iflow_calls.append(body)
        usage = {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
        if not body.get("stream"):
            return self._reply(200, {"id": "if-1", "object": "chat.completion", "created": 1, "model": body["model"],
                                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi from iflow"},
                                                  "finish_reason": "stop"}], "usage": usage})
        chunks = [{"role": "assistant", "content": "hi "}, {"content": "from "}, {"content": "iflow"}]
        events = [{"id": "if-1", "object": "chat.completion.chunk", "created": 1, "model": body["model"],
                   "choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in chunks]
        events.append({"id": "if-1", "object": "chat.completion.chunk", "created": 1, "model": body["model"],
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({"id": "if-1", "object": "chat.completion.chunk", "created": 1, "model": body["model"],
                           "choices": [], "usage": usage})
        text = "".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"
        return self._reply(200, text, "text/event-stream")

    def openai_device(self, operation, body):
        """OpenAI's device authorization as the Codex CLI uses it: JSON in,
        the interval as a string, 403 while pending, then an authorization
        code with the PKCE verifier the server picked for the exchange."""
        state = Handler.state
        if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return self._reply(415, {"error": {"message": "JSON expected"}})
        with state.lock:
            if operation == "usercode":
                if body.get("client_id") != CODEX_CLIENT_ID:
                    return self._reply(400, {"error": {"message": "unknown client", "code": "invalid_client"}})
                state.openai_devices["deviceauth_1"] = "CODX-1234"
                return self._reply(200, {"device_auth_id": "deviceauth_1", "user_code": "CODX-1234", "interval": "1",
                                         "expires_at": "2030-01-01T00:15:00Z"})
            if operation != "token":
                return self._reply(404, {"error": {"message": "not found"}})
            if state.openai_devices.get(body.get("device_auth_id")) != body.get("user_code"):
                return self._reply(400, {"error": {"message": "unknown device authorization", "code": "invalid_request"}})
            state.device_polls += 1
            if state.device_polls < 2:
                return self._reply(403, {"error": {"message": "Device authorization is pending", "code": "deviceauth_authorization_pending"}})
            verifier = b64url(hashlib.sha256(b"server-chosen").digest()) + "x" * 5
            challenge = b64url(hashlib.sha256(verifier.encode()).digest())
            code = f"ac_device_{next(state.counter)}"
            state.codes[code] = (challenge, OPENAI_DEVICE_REDIRECT)
            return self._reply(200, {"authorization_code": code, "code_challenge": challenge, "code_verifier": verifier})

    def kiro_social_refresh(self, body):
        state = Handler.state
        with state.lock:
            state.refreshes += 1
            token = body.get("refreshToken")
            if token not in state.refresh:
                return self._reply(401, {"message": "Invalid refresh token"})
            state.refresh.discard(token)
            issued = state.issue()
        return self._reply(200, {"accessToken": issued["access_token"], "refreshToken": issued["refresh_token"], "expiresIn": state.access_ttl,
                                 "profileArn": "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK"})

    def kiro(self, body):
        state = Handler.state
        if not state.valid(self._bearer()):
            return self._reply(403, {"message": "The bearer token included in the request is invalid.", "reason": None},
                               headers=[("x-amzn-ErrorType", "AccessDeniedException")])
        conversation = body.get("conversationState") or {}
        current = (conversation.get("currentMessage") or {}).get("userInputMessage") or {}
        if (self.headers.get("X-Amz-Target") != "AmazonCodeWhispererStreamingService.GenerateAssistantResponse"
                or not body.get("profileArn", "").startswith("arn:aws:codewhisperer:") or not conversation.get("conversationId")
                or not current.get("content") or not current.get("modelId") or conversation.get("chatTriggerType") != "MANUAL"):
            return self._reply(400, {"message": "Improperly formed request."}, headers=[("x-amzn-ErrorType", "ValidationException")])
        with state.lock:
            state.kiro_requests.append(body)
        tools = (current.get("userInputMessageContext") or {}).get("tools")
        frames = [kiro_event("messageMetadataEvent", {"conversationId": conversation["conversationId"]})]
        frames += [kiro_event("assistantResponseEvent", {"content": piece}) for piece in ("hi ", "from ", "kiro")]
        if tools:
            name = tools[0]["toolSpecification"]["name"]
            frames += [kiro_event("toolUseEvent", {"toolUseId": "tooluse_1", "name": name, "input": piece})
                       for piece in ('{"city"', ': "Paris"}')]
            frames.append(kiro_event("toolUseEvent", {"toolUseId": "tooluse_1", "name": name, "stop": True}))
        frames.append(kiro_event("meteringEvent", {"unit": "credit", "unitPlural": "credits", "usage": 0.02}))
        frames.append(kiro_event("contextUsageEvent", {"contextUsagePercentage": 0.5}))
        data = b"".join(frames)
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        # Pieces of 37 bytes: frames arrive split, several per piece, and across pieces.
        for start in range(0, len(data), 37):
            piece = data[start:start + 37]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def kiro_usage(self, query):
        """GetUsageLimits as CodeWhisperer answers it (restJson1: epoch-second
        timestamps, *WithPrecision numbers beside the integer ones)."""
        state = Handler.state
        if not state.valid(self._bearer()):
            return self._reply(403, {"message": "The bearer token included in the request is invalid."},
                               headers=[("x-amzn-ErrorType", "AccessDeniedException")])
        state.kiro_usage_queries.append(query)
        if query.get("origin") != "AI_EDITOR" or query.get("resourceType") != "AGENTIC_REQUEST":
            return self._reply(400, {"message": "Improperly formed request."}, headers=[("x-amzn-ErrorType", "ValidationException")])
        reset = 1893456000  # 2030-01-01T00:00:00Z
        return self._reply(200, {
            "daysUntilReset": 8, "limits": [], "nextDateReset": float(reset),
            "overageConfiguration": {"overageStatus": "DISABLED"},
            "subscriptionInfo": {"subscriptionTitle": "KIRO FREE", "type": "Q_DEVELOPER_STANDALONE_FREE"},
            "usageBreakdownList": [{
                "resourceType": "CREDIT", "displayName": "Credit", "unit": "INVOCATIONS", "currency": "USD",
                "currentUsage": int(state.kiro_credits_used), "currentUsageWithPrecision": state.kiro_credits_used,
                "usageLimit": 50, "usageLimitWithPrecision": 50.0, "nextDateReset": float(reset),
                "freeTrialInfo": {"freeTrialStatus": "ACTIVE", "freeTrialExpiry": float(reset - 86400),
                                  "currentUsage": int(state.kiro_trial_used), "currentUsageWithPrecision": state.kiro_trial_used,
                                  "usageLimit": 500, "usageLimitWithPrecision": 500.0},
                "bonuses": []}],
            "userInfo": {"email": None, "userId": "d-9067.user-1"}})

    def google_unauthenticated(self):
        return self._reply(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                                           "status": "UNAUTHENTICATED"}})

    def code_assist(self, method, query, body):
        state = Handler.state
        if not state.valid(self._bearer()):
            return self.google_unauthenticated()
        if method == "loadCodeAssist":
            free = {"id": "free-tier", "name": "Gemini Code Assist for individuals", "isDefault": True,
                    "userDefinedCloudaicompanionProject": False}
            if not state.onboarded:
                return self._reply(200, {"allowedTiers": [free]})
            return self._reply(200, {"currentTier": free, "allowedTiers": [free], "cloudaicompanionProject": GOOGLE_PROJECT})
        if method == "onboardUser":
            if body.get("tierId") != "free-tier" or body.get("cloudaicompanionProject"):
                return self._reply(400, {"error": {"code": 400, "message": "Precondition Failed", "status": "FAILED_PRECONDITION"}})
            return self._reply(200, {"name": "operations/onboard-1", "done": False})
        if method == "retrieveUserQuota":
            if body.get("project") != GOOGLE_PROJECT:
                return self._reply(403, {"error": {"code": 403, "message": "no such project", "status": "PERMISSION_DENIED"}})
            return self._reply(200, {"buckets": [
                {"modelId": "gemini-2.5-pro", "tokenType": "REQUESTS", "remainingFraction": 0.6, "resetTime": "2030-01-02T00:00:00Z"},
                {"modelId": "gemini-2.5-flash", "tokenType": "REQUESTS", "remainingFraction": 1, "resetTime": "2030-01-02T00:00:00Z"}]})
        if method == "fetchAvailableModels":
            if body.get("project") != GOOGLE_PROJECT or not self.headers.get("User-Agent", "").startswith("antigravity/"):
                return self._reply(403, {"error": {"code": 403, "message": "no such project", "status": "PERMISSION_DENIED"}})
            return self._reply(200, {"models": {
                "gemini-3-flash": {"displayName": "Gemini 3 Flash", "quotaInfo": {"remainingFraction": 0.8, "resetTime": "2030-01-02T00:00:00Z"}},
                "claude-sonnet-4-5": {"displayName": "Claude Sonnet 4.5", "quotaInfo": {"resetTime": "2030-01-02T00:00:00Z"}},
                "chat_20706": {"isInternal": True, "quotaInfo": {"remainingFraction": 1}}}})
        if method not in ("generateContent", "streamGenerateContent"):
            return self._reply(404, {"error": {"code": 404, "message": f"Method not found: {method}", "status": "NOT_FOUND"}})
        request = body.get("request") or {}
        # Antigravity's envelope (as its IDE sends it) or the Gemini CLI's.
        antigravity = (self.headers.get("User-Agent", "").startswith("antigravity/") and body.get("userAgent") == "antigravity"
                       and body.get("requestType") == "agent" and str(body.get("requestId", "")).startswith("agent-")
                       and str(request.get("sessionId", "")).startswith("-") and "user_prompt_id" not in body)
        gemini_cli = self.headers.get("User-Agent", "").startswith("GeminiCLI/") and "userAgent" not in body
        if (body.get("project") != GOOGLE_PROJECT or not body.get("model") or not request.get("contents")
                or not (antigravity or gemini_cli)):
            return self._reply(400, {"error": {"code": 400, "message": "Invalid JSON payload: not a Code Assist request", "status": "INVALID_ARGUMENT"}})
        usage = {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8}

        def chunk(text, finish=None, with_usage=False):
            candidate = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
            if finish:
                candidate["finishReason"] = finish
            response = {"candidates": [candidate], "modelVersion": body["model"]}
            if with_usage:
                response["usageMetadata"] = usage
            return {"response": response, "traceId": "trace-1"}

        if method == "generateContent":
            return self._reply(200, chunk("hi from gemini", "STOP", True))
        if query.get("alt") != "sse":
            return self._reply(400, {"error": {"code": 400, "message": "alt=sse expected", "status": "INVALID_ARGUMENT"}})
        chunks = [chunk("hi "), chunk("from "), chunk("gemini", "STOP", True)]
        text = "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks)
        return self._reply(200, text, "text/event-stream")

    def claude(self, body):
        state = Handler.state
        beta = self.headers.get("anthropic-beta", "")
        if not state.valid(self._bearer()) or "oauth-2025-04-20" not in beta:
            return self._reply(401, {"type": "error", "error": {"type": "authentication_error", "message": "OAuth token has expired."}})
        system = body.get("system") or []
        # Claude Code's prompt leads, after Claude Code's own billing line when there is one.
        if isinstance(system, list) and system and system[0].get("text", "").startswith("x-anthropic-billing-header:"):
            system = system[1:]
        if not (isinstance(system, list) and system and system[0].get("text", "").startswith("You are Claude Code")):
            return self._reply(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "This credential is only authorized for use with Claude Code"}})
        if state.owner_of_access.get(self._bearer()) in state.extra_usage:
            return self._reply(400, {"type": "error", "error": {"type": "invalid_request_error",
                                     "message": "Third-party apps now draw from your extra usage, not your plan limits. Add more at claude.ai/settings/usage and keep going."}})
        if body.get("stream"):
            return self.claude_stream(body)
        return self._reply(200, {"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
                                 "content": [{"type": "text", "text": "hi from claude"}], "stop_reason": "end_turn",
                                 "stop_sequence": None, "usage": {"input_tokens": 7, "output_tokens": 3}})

    def claude_stream(self, body):
        """A slow stream: one word every 0.3 s (long enough for a token to expire meanwhile)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(name, payload):
            data = f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        event("message_start", {"message": {"id": "msg_s", "type": "message", "role": "assistant", "model": body["model"],
                                            "content": [], "stop_reason": None, "stop_sequence": None,
                                            "usage": {"input_tokens": 7, "output_tokens": 1}}})
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        for word in ["one ", "two ", "three ", "four"]:
            time.sleep(0.3)
            event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": word}})
        event("content_block_stop", {"index": 0})
        event("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 4}})
        event("message_stop", {})
        self.wfile.write(b"0\r\n\r\n")

    def codex(self, body):
        state = Handler.state
        if (not state.valid(self._bearer()) or self.headers.get("chatgpt-account-id") != CODEX_ACCOUNT
                or body.get("stream") is not True or body.get("store") is not False or "instructions" not in body):
            return self._reply(401, {"error": {"message": "unauthorized or not shaped like Codex", "type": "invalid_request_error"}})
        item = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": "hi from codex", "annotations": []}]}
        response = {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": body["model"],
                    "output": [item], "usage": {"input_tokens": 4, "output_tokens": 2, "total_tokens": 6}}
        events = [
            ("response.created", {"response": {**response, "status": "in_progress", "output": []}}),
            ("response.output_item.added", {"output_index": 0, "item": {**item, "status": "in_progress", "content": []}}),
            ("response.content_part.added", {"item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": ""}}),
            ("response.output_text.delta", {"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "hi from codex"}),
            ("response.output_text.done", {"item_id": "msg_1", "output_index": 0, "content_index": 0, "text": "hi from codex"}),
            ("response.output_item.done", {"output_index": 0, "item": item}),
            ("response.completed", {"response": response}),
        ]
        text = "".join(f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n" for name, payload in events)
        return self._reply(200, text, "text/event-stream")


def start():
    """Starts the mock; returns (server, state, base_url)."""
    state = State()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    Handler.state, Handler.base = state, base
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state, base


def endpoints(base):
    """The endpoints.json pointing every service at the mock."""
    return {
        "claude-code": {"authorize_url": f"{base}/authorize", "token_url": f"{base}/token",
                        "api_base": f"{base}/claude/v1", "usage_url": f"{base}/claude/usage"},
        "codex": {"authorize_url": f"{base}/authorize", "token_url": f"{base}/token", "api_base": f"{base}/codex",
                  "device_url": f"{base}/api/accounts/deviceauth/usercode",
                  "device_token_url": f"{base}/api/accounts/deviceauth/token"},
        "github-copilot": {"device_url": f"{base}/device/code", "token_url": f"{base}/github/token",
                           "exchange_url": f"{base}/copilot_internal/v2/token", "api_base": f"{base}/copilot"},
        "qwen": {"device_url": f"{base}/device/code", "token_url": f"{base}/token", "api_base": f"{base}/qwen/v1"},
        "gemini-cli": {"authorize_url": f"{base}/google/auth", "token_url": f"{base}/google/token",
                       "userinfo_url": f"{base}/google/userinfo", "api_base": f"{base}/codeassist/v1internal",
                       "usage_url": f"{base}/codeassist/v1internal:retrieveUserQuota"},
        "iflow": {"authorize_url": f"{base}/iflow/oauth", "token_url": f"{base}/iflow/oauth/token",
                  "userinfo_url": f"{base}/iflow/api/oauth/getUserInfo", "api_base": f"{base}/iflow/v1"},
        "antigravity": {"authorize_url": f"{base}/google/auth", "token_url": f"{base}/google/token",
                        "userinfo_url": f"{base}/google/userinfo", "api_base": f"{base}/codeassist/v1internal",
                        "usage_url": f"{base}/codeassist/v1internal:fetchAvailableModels"},
        "kiro": {"register_url": f"{base}/aws/oidc/client/register", "device_url": f"{base}/aws/oidc/device_authorization",
                 "token_url": f"{base}/aws/oidc/token", "refresh_url": f"{base}/kiro/auth/refreshToken",
                 "api_base": f"{base}/kiro/api", "usage_url": f"{base}/kiro/api/getUsageLimits"},
    }
