#include "tests/tools/vzdump_sim_scenario.h"

#include <cerrno>
#include <fstream>

namespace pbk::testing::vzdump_sim {

namespace {

[[noreturn]] void Invalid(const std::string& where, const std::string& problem) {
  throw ScenarioError(where + ": " + problem);
}

void RejectUnknownKeys(const json& object, const std::string& where,
                       const std::vector<std::string>& known) {
  for (const auto& item : object.items()) {
    if (std::find(known.begin(), known.end(), item.key()) == known.end()) {
      Invalid(where + "." + item.key(), "unknown key");
    }
  }
}

const json* Member(const json& object, const std::string& key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// Missing and null mean the same for optional keys; a present key of the wrong
// type is an error rather than silently ignored, so typos in tests surface.
std::optional<std::string> NullableString(const json& object, const std::string& key,
                                          const std::string& where, bool required) {
  const json* value = Member(object, key);
  if (value == nullptr) {
    if (required) Invalid(where + "." + key, "missing key");
    return std::nullopt;
  }
  if (value->is_null()) return std::nullopt;
  if (!value->is_string()) {
    Invalid(where + "." + key, std::string("expected a string or null, got ") + value->type_name());
  }
  const std::string text = value->get<std::string>();
  if (text.empty()) Invalid(where + "." + key, "must not be empty");
  return text;
}

std::optional<long long> NullableInteger(const json& object, const std::string& key,
                                         const std::string& where) {
  const json* value = Member(object, key);
  if (value == nullptr || value->is_null()) return std::nullopt;
  if (!value->is_number_integer()) {
    Invalid(where + "." + key, std::string("expected an integer, got ") + value->type_name());
  }
  if (value->is_number_unsigned() && value->get<unsigned long long>() > 1000000000000ULL) {
    Invalid(where + "." + key, "out of range");
  }
  return value->get<long long>();
}

GuestRun ParseRun(const std::string& text, const std::string& where) {
  static const std::map<std::string, GuestRun> kRuns = {{"snapshot", GuestRun::kSnapshot},
                                                        {"suspend", GuestRun::kSuspend},
                                                        {"stop", GuestRun::kStop},
                                                        {"stopped", GuestRun::kStopped},
                                                        {"fail-archive", GuestRun::kFailArchive},
                                                        {"fail-early", GuestRun::kFailEarly}};
  const auto it = kRuns.find(text);
  if (it == kRuns.end()) {
    Invalid(
        where,
        "'" + text + "' is not one of snapshot, suspend, stop, stopped, fail-archive, fail-early");
  }
  return it->second;
}

Guest ParseGuest(const json& entry, const std::string& where) {
  if (!entry.is_object())
    Invalid(where, std::string("expected an object, got ") + entry.type_name());
  RejectUnknownKeys(entry, where, {"vmid", "type", "name", "run", "archive_seconds"});
  Guest guest;
  if (Member(entry, "vmid") == nullptr) Invalid(where + ".vmid", "missing key");
  const std::optional<long long> vmid = NullableInteger(entry, "vmid", where);
  if (!vmid) Invalid(where + ".vmid", "must not be null");
  if (*vmid < 100 || *vmid > 999999999) Invalid(where + ".vmid", "must be 100..999999999");
  guest.vmid = *vmid;

  const std::optional<std::string> run = NullableString(entry, "run", where, true);
  if (!run) Invalid(where + ".run", "must not be null");
  guest.run = ParseRun(*run, where + ".run");

  // An unknown guest has no type at all, so fail-early may omit it.
  const std::optional<std::string> type =
      NullableString(entry, "type", where, guest.run != GuestRun::kFailEarly);
  if (type) {
    if (*type != "qemu" && *type != "lxc") Invalid(where + ".type", "must be \"qemu\" or \"lxc\"");
    guest.type = *type;
  } else if (guest.run != GuestRun::kFailEarly) {
    Invalid(where + ".type", "must not be null");
  }

  guest.name = NullableString(entry, "name", where, false);

  if (const json* seconds = Member(entry, "archive_seconds");
      seconds != nullptr && !seconds->is_null()) {
    if (!seconds->is_number()) {
      Invalid(where + ".archive_seconds",
              std::string("expected a number, got ") + seconds->type_name());
    }
    guest.archive_seconds = seconds->get<double>();
    if (!std::isfinite(guest.archive_seconds) || guest.archive_seconds < 0) {
      Invalid(where + ".archive_seconds", "must be a finite number >= 0");
    }
  }
  return guest;
}

Scenario ParseScenario(const json& doc) {
  const std::string where = "scenario";
  if (!doc.is_object()) Invalid(where, std::string("expected an object, got ") + doc.type_name());
  RejectUnknownKeys(doc, where,
                    {"storage", "dumpdir", "job_id", "job_config", "options", "guests",
                     "abort_after_guest", "fail_job_start", "all"});
  Scenario scenario;
  scenario.storage = NullableString(doc, "storage", where, true);
  scenario.dumpdir = NullableString(doc, "dumpdir", where, false);
  if (!scenario.storage && !scenario.dumpdir) {
    Invalid(where, "storage and dumpdir are both null; a job writes to one of them");
  }
  if (scenario.dumpdir) {
    // vzdump strips trailing slashes before it builds any path from dumpdir.
    std::string& dir = *scenario.dumpdir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  }

  scenario.job_id = NullableString(doc, "job_id", where, false);
  if (scenario.job_id && scenario.job_id->find('/') != std::string::npos) {
    Invalid(where + ".job_id", "must not contain '/'");
  }

  if (const json* config = Member(doc, "job_config"); config != nullptr && !config->is_null()) {
    if (!config->is_object()) {
      Invalid(where + ".job_config", std::string("expected an object, got ") + config->type_name());
    }
    scenario.job_config = *config;
  }
  if (const json* options = Member(doc, "options"); options != nullptr && !options->is_null()) {
    if (!options->is_object()) {
      Invalid(where + ".options", std::string("expected an object, got ") + options->type_name());
    }
    scenario.options = *options;
  }

  const json* guests = Member(doc, "guests");
  if (guests == nullptr) Invalid(where + ".guests", "missing key");
  if (!guests->is_array()) {
    Invalid(where + ".guests", std::string("expected an array, got ") + guests->type_name());
  }
  for (std::size_t i = 0; i < guests->size(); ++i) {
    scenario.guests.push_back(
        ParseGuest((*guests)[i], where + ".guests[" + std::to_string(i) + "]"));
  }
  // vzdump always walks its task list in ascending vmid order.
  std::sort(scenario.guests.begin(), scenario.guests.end(),
            [](const Guest& a, const Guest& b) { return a.vmid < b.vmid; });
  for (std::size_t i = 1; i < scenario.guests.size(); ++i) {
    if (scenario.guests[i].vmid == scenario.guests[i - 1].vmid) {
      Invalid(where + ".guests", "vmid " + std::to_string(scenario.guests[i].vmid) + " repeats");
    }
  }

  scenario.abort_after_guest = NullableInteger(doc, "abort_after_guest", where);
  if (scenario.abort_after_guest && *scenario.abort_after_guest < 0) {
    Invalid(where + ".abort_after_guest", "must be >= 0");
  }

  if (const json* flag = Member(doc, "fail_job_start"); flag != nullptr && !flag->is_null()) {
    if (!flag->is_boolean()) {
      Invalid(where + ".fail_job_start",
              std::string("expected a boolean, got ") + flag->type_name());
    }
    scenario.fail_job_start = flag->get<bool>();
  }
  if (const json* flag = Member(doc, "all"); flag != nullptr && !flag->is_null()) {
    if (!flag->is_boolean()) {
      Invalid(where + ".all", std::string("expected a boolean, got ") + flag->type_name());
    }
    scenario.all = flag->get<bool>();
  }
  return scenario;
}

}  // namespace

Scenario LoadScenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ScenarioError("cannot read scenario file '" + path + "': " + ErrnoText(errno));
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::parse_error& e) {
    throw ScenarioError("scenario file '" + path + "' is not valid JSON: " + e.what());
  }
  return ParseScenario(doc);
}

}  // namespace pbk::testing::vzdump_sim
