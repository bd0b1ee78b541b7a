// The sample publisher's shared L2: `dotnet run` (or SAMPLE_PUBLISHER=1 deploy/local/up.sh, which starts it on
// 127.0.0.1:6380). Any Garnet command-line option may be given (see `--help`); without any, GarnetL2.Defaults.
using System.Runtime.InteropServices;
using EdgeCache.SampleL2;

using var server = GarnetL2.Start(args);
var stop = new TaskCompletionSource();
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
await stop.Task;
