#!/usr/bin/python3
"""The fake Uptime Kuma against shared/reference/uptime-kuma.md: each test
names the fact it checks. Run by ctest as fakes.reference."""

import os
import socket
import ssl
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakes_testlib  # noqa: E402

KNOWN = "k8Qz3vT1pL"


class FakeKumaTest(fakes_testlib.FakeTestCase):
    def setUp(self):
        folder = self.make_folder()
        self.server = fakes_testlib.Server(
            "fake_kuma.py", ["--cert", self.cert, "--key", self.key, "--tokens", KNOWN], folder)
        self.addCleanup(self.server.stop)

    def test_push_answers_ok_true_with_content_length(self):
        answer = self.server.request("GET", f"/api/push/{KNOWN}?status=up&msg=OK&ping=12")
        self.assertEqual((answer.status, answer.body), (200, b'{"ok":true}'))
        self.assertEqual(answer.header("Content-Length"), "11")
        self.assertEqual(answer.header("Content-Type"), "application/json; charset=utf-8")

    def test_unknown_token_is_404_monitor_not_found(self):
        answer = self.server.request("GET", "/api/push/nope?status=up")
        self.assertEqual(answer.status, 404)
        self.assertEqual(answer.json(), {"ok": False, "msg": "Monitor not found or not active."})

    def test_head_works_and_post_is_404(self):
        self.assertEqual(self.server.request("HEAD", f"/api/push/{KNOWN}").status, 200)
        answer = self.server.request("POST", f"/api/push/{KNOWN}", body="")
        self.assertEqual(answer.status, 404)
        self.assertIn(b"Cannot POST", answer.body)

    def test_only_exact_lowercase_up_is_up(self):
        for status, seen in (("up", "up"), ("UP", "down"), ("ok", "down"), (None, "up")):
            query = f"?status={status}" if status else ""
            self.server.request("GET", f"/api/push/{KNOWN}{query}")
            self.assertEqual(self.server.events("request")[-1]["kuma"]["status"], seen, status)

    def test_msg_defaults_to_ok(self):
        self.server.request("GET", f"/api/push/{KNOWN}")
        self.assertEqual(self.server.events("request")[-1]["kuma"]["msg"], "OK")

    def test_ping_keeps_only_its_integer_part(self):
        for ping, seen in (("1234.9", 1234), ("42", 42), ("abc", None), ("0", None)):
            self.server.request("GET", f"/api/push/{KNOWN}?ping={ping}")
            self.assertEqual(self.server.events("request")[-1]["kuma"]["ping"], seen, ping)

    def test_a_head_over_16_kib_gets_431_and_a_close(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            with context.wrap_socket(raw) as conn:
                msg = "x" * 20000
                conn.sendall(f"GET /api/push/{KNOWN}?msg={msg} HTTP/1.1\r\nHost: k\r\n\r\n"
                             .encode())
                reply = b""
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
        self.assertTrue(reply.startswith(b"HTTP/1.1 431 "), reply[:40])
        self.assertIn(b"Connection: close", reply)


if __name__ == "__main__":
    unittest.main()
