#include "hook/deadline.h"

#include <signal.h>
#include <unistd.h>

namespace pbk {
namespace {

volatile sig_atomic_t g_result_spooled = 0;
volatile sig_atomic_t g_node_alarm = 0;  // the push under way is the node monitor's

void OnDeadline(int) {
  static const char kNodeAlarm[] =
      "ERROR: the push to the node monitor did not finish within its deadline\n";
  if (g_node_alarm != 0) {
    ssize_t ignored = write(STDOUT_FILENO, kNodeAlarm, sizeof kNodeAlarm - 1);
    (void)ignored;
    _exit(0);
  }
  static const char kSpooled[] =
      "ERROR: the Kuma push did not finish within its deadline; the result stays spooled for "
      "`pbk-agent flush`\n";
  static const char kLost[] =
      "ERROR: the Kuma push did not finish within its deadline, and the result could not be "
      "spooled either: it is lost; refresh reports the job's state from the run record\n";
  const bool spooled = g_result_spooled != 0;
  ssize_t ignored = spooled ? write(STDOUT_FILENO, kSpooled, sizeof kSpooled - 1)
                            : write(STDOUT_FILENO, kLost, sizeof kLost - 1);
  (void)ignored;
  _exit(spooled ? 0 : 1);
}

}  // namespace

void ArmDeadline(int seconds) {
  struct sigaction action {};
  action.sa_handler = OnDeadline;
  sigemptyset(&action.sa_mask);
  sigaction(SIGALRM, &action, nullptr);
  alarm(static_cast<unsigned>(seconds));
}

void SetResultSpooled(bool spooled) { g_result_spooled = spooled ? 1 : 0; }
void SetNodeAlarm(bool node_alarm) { g_node_alarm = node_alarm ? 1 : 0; }

}  // namespace pbk
