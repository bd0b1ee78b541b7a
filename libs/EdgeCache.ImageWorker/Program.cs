using EdgeCache.Engine;
using EdgeCache.ImageWorker;

// Ready (a frame on standard output) once libvips is loaded and a first small variant made, then one job at a time from standard input, one answer each on standard output, until input ends. The
// shield that started this process kills it when a job overruns its time limit, and starts another.
// Standard error carries nothing a client sent (the shield logs it only as a worker's failure).
var maxInput = args.Length > 0 && int.TryParse(args[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var m) ? m : 64 * 1024 * 1024;
Transformer.Initialise();
using var input = Console.OpenStandardInput();
using var output = Console.OpenStandardOutput();
Transformer.WarmUp();
ImageWorkerProtocol.WriteReady(output);
while (ImageWorkerProtocol.ReadJob(input, maxInput) is { } job)
{
    ImageWorkerProtocol.WriteResult(output, Transformer.Run(job));
}
