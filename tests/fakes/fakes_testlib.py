"""Starting the fakes from python tests: a throw-away certificate, a fake
server on 127.0.0.1 stopped by its PID, and requests whose answers keep
every header as sent."""

import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable or "/usr/bin/python3"


def make_certificate(folder):
    cert = os.path.join(folder, "server.pem")
    key = os.path.join(folder, "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class Answer:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] as sent
        self.body = body

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self):
        return json.loads(self.body)


class Server:
    """A fake (SCRIPT with ARGS) listening on 127.0.0.1 until stop()."""

    def __init__(self, script, args, folder):
        self.folder = folder
        self.port_file = os.path.join(folder, "port")
        self.log_path = os.path.join(folder, "events.jsonl")
        self._stderr = open(os.path.join(folder, "stderr"), "wb")
        self.process = subprocess.Popen(
            [PYTHON, os.path.join(HERE, script), "--port-file", self.port_file,
             "--log", self.log_path] + args,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.port_file):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                with open(os.path.join(folder, "stderr"), encoding="utf-8") as f:
                    raise RuntimeError(f"{script} did not start: {f.read()}")
            time.sleep(0.02)
        with open(self.port_file, encoding="ascii") as f:
            self.port = int(f.read())

    def stop(self):
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._stderr.close()

    def events(self, name=None):
        try:
            with open(self.log_path, encoding="utf-8") as f:
                entries = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []
        return [e for e in entries if name is None or e.get("event") == name]

    def request(self, method, path, headers=None, body=None, form=None):
        headers = dict(headers or {})
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return Answer(response.status, response.reason, response.getheaders(), data)
        finally:
            conn.close()


class TempFolder:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="pbk-fakes-")

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


class FakeTestCase(unittest.TestCase):
    """A certificate for the class, and a folder of its own for each test."""

    @classmethod
    def setUpClass(cls):
        cls.temp = TempFolder()
        cls.cert, cls.key = make_certificate(cls.temp.path)

    @classmethod
    def tearDownClass(cls):
        cls.temp.remove()

    def make_folder(self):
        folder = os.path.join(self.temp.path, self.id().rsplit(".", 1)[-1])
        os.makedirs(folder)
        return folder
