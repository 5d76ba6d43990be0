// The last line of defence for the hook's deadline: if the push machinery
// itself ever hung past the configured timeout, SIGALRM ends the process
// anyway, with an ERROR line for the task log that depends on whether the
// run's result made it into the spool first (then exit 0: flush delivers
// it) or not (exit 1), or on whether the push under way is the node
// monitor's alarm (exit 0).
#pragma once

namespace pbk {

// Arms SIGALRM in SECONDS; alarm(0) disarms it.
void ArmDeadline(int seconds);
// What the deadline says, set before each push.
void SetResultSpooled(bool spooled);
void SetNodeAlarm(bool node_alarm);

}  // namespace pbk
