// The node-wide vzdump defaults, /etc/vzdump.conf: `key: value` lines and
// `#` comments, parsed by vzdump against its schema at every run. The guard
// owns exactly one line of it, `script: <hook>`, and keeps every other byte
// (comments, order, line ends, the `#script:` line PVE ships).
#pragma once

#include <string>
#include <string_view>

namespace pbk {

// What vzdump.conf says about `script`.
struct VzdumpConfScript {
  bool present = false;  // a `script:` line exists
  std::string value;     // its value, trimmed
};

// Checks TEXT as vzdump would read it and finds the `script:` line. False
// with *err ("line N: …") when a line is neither blank, a comment nor
// `key: value`, or a key appears twice: a file vzdump would not read as
// written is never changed.
bool ParseVzdumpConf(std::string_view text, VzdumpConfScript* script, std::string* err);

// TEXT with `script: SCRIPT` in place of its `script:` line, or added (after
// a commented `#script:` line when there is one, else at the end), with the
// file's own line ends. SCRIPT must be an absolute path on one line.
bool SetVzdumpConfScript(std::string_view text, const std::string& script, std::string* out,
                         std::string* err);

// TEXT without its `script:` line when that line says SCRIPT (another
// value is left alone); *removed says whether it went.
bool RemoveVzdumpConfScript(std::string_view text, const std::string& script, std::string* out,
                            bool* removed, std::string* err);

// The file functions: a missing file has no `script:` line. Errors name
// the file.
bool ReadVzdumpConfScript(const std::string& path, VzdumpConfScript* script, std::string* err);

// Sets the line in PATH (created with just that line when missing),
// atomically and keeping the file's mode and owner; writes nothing when
// the line is already there. *changed says whether it wrote.
bool WriteVzdumpConfScript(const std::string& path, const std::string& script, bool* changed,
                           std::string* err);

// Takes `script: SCRIPT` out of PATH; a missing file or another value is
// left as it is.
bool RemoveVzdumpConfScriptFile(const std::string& path, const std::string& script,
                                bool* changed, std::string* err);

}  // namespace pbk
