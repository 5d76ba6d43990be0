// SHA-1, for one purpose: PVE names legacy vzdump.cron jobs "<sha1 of the
// file>:<n>", and the guard must compute the same names from the file. It
// is not used for anything that needs a secure hash. A local implementation
// keeps OpenSSL out of processes that never talk to the network.
#pragma once

#include <string>
#include <string_view>

namespace pbk {

// Lower-case hex digest of DATA.
std::string Sha1Hex(std::string_view data);

}  // namespace pbk
