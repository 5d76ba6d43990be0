#include "agent/kuma_login.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

#include "agent/core/fs.h"
#include "agent/core/log.h"
#include "agent/core/text.h"
#include "api/kuma/kuma_admin.h"

namespace pbk {

bool ReadPasswordFile(const std::string& path, std::string* password, std::string* err) {
  std::string content;
  if (!ReadFile(path, &content, err)) return false;
  const size_t end = content.find_first_of("\r\n");
  *password = content.substr(0, end);
  if (password->empty()) {
    *err = "the password file " + path + " is empty (its first line is the password)";
    return false;
  }
  return true;
}

bool PromptOnTerminal(const std::string& prompt, bool secret, std::string* answer) {
  UniqueFd tty(open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (!tty.valid()) return false;
  termios saved{};
  const bool can_hide = tcgetattr(tty.get(), &saved) == 0;
  if (secret && can_hide) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    tcsetattr(tty.get(), TCSAFLUSH, &quiet);
  } else if (secret) {
    return false;  // no way to hide what is typed
  }
  const ssize_t written = write(tty.get(), prompt.data(), prompt.size());
  answer->clear();
  char c = 0;
  ssize_t n = 0;
  while ((n = read(tty.get(), &c, 1)) == 1 && c != '\n') {
    if (c != '\r') answer->push_back(c);
  }
  if (secret && can_hide) tcsetattr(tty.get(), TCSAFLUSH, &saved);
  return written >= 0 && n >= 0 && !answer->empty();
}

namespace {

constexpr int kLoginFailed = 1;

KumaLoginResult Done(int code, std::string message, const KumaAdmin* admin) {
  return {code, std::move(message), admin != nullptr ? admin->calls() : 0};
}

}  // namespace

KumaLoginResult KumaLogin(const Config& config, KumaLoginOptions options,
                          const KumaPrompt& prompt) {
  AddSecrets({options.password});
  if (!options.totp.empty()) AddSecrets({options.totp});
  KumaAdminError error;
  std::unique_ptr<KumaAdmin> admin = KumaAdmin::Connect(config.kuma, &error);
  if (!admin) return Done(kLoginFailed, error.message, nullptr);

  std::string token;
  bool ok = admin->Login(options.username, options.password, options.totp, &token, &error);
  if (!ok && error.kind == KumaAdminError::Kind::kTotpRequired && options.totp.empty()) {
    if (!prompt || !prompt("Two-factor code: ", false, &options.totp)) {
      return Done(kLoginFailed,
                  "Uptime Kuma wants a two-factor code for " + options.username +
                      ": run again with --totp CODE",
                  admin.get());
    }
    AddSecrets({options.totp});
    ok = admin->Login(options.username, options.password, options.totp, &token, &error);
  }
  if (!ok) return Done(kLoginFailed, error.message, admin.get());
  AddSecrets({token});

  const std::string& file = config.kuma.session_file;
  std::string err;
  AtomicWriteOptions write;
  write.mode = 0600;
  write.exact_mode = false;  // pmxcfs sets its own modes (priv/ is root-only)
  if (!MakeDirs(DirName(file), 0700, &err) || !WriteFileAtomic(file, token + "\n", write, &err)) {
    return Done(kLoginFailed, "logged in, but cannot store the session: " + err, admin.get());
  }
  return Done(0,
              "logged in to Uptime Kuma at " + config.kuma.url + " as " + options.username +
                  "; the session is stored in " + file + " (the password is not)",
              admin.get());
}

}  // namespace pbk
