using EdgeCache.Engine;
using EdgeCache.ImageWorker;

// Ready (a frame on standard output) once libvips is loaded and a first small variant made, then one job at a time from standard input, one answer each on standard output, until input ends. The
// shield that started this process kills it when a job overruns its time limit, and starts another.
// Standard error carries nothing a client sent (the shield logs it only as a worker's failure).
// Arguments (the shield's EdgeCache:ImageWorkers settings): the largest input in bytes (default 64 MiB), libvips'
// threads (default 1), the WebP encoder's effort (0-6, default 2), the AVIF encoder's (0-9, default 2) and the
// process's memory limit in bytes (MemoryLimitBytes; 0 or absent: none).
var maxInput = Argument(0, 64 * 1024 * 1024, 1, int.MaxValue);

// The memory limit is set before libvips allocates anything.
if (args.Length > 4 && long.TryParse(args[4], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var limit) && limit > 0)
{
    if (MemoryLimit.Apply(limit) is { } failed) Console.Error.WriteLine("memory limit not set: " + failed);
}

Transformer.Initialise(Argument(1, 1, 1, 64), Argument(2, 2, 0, 6), Argument(3, 2, 0, 9));
using var input = Console.OpenStandardInput();
using var output = Console.OpenStandardOutput();
Transformer.WarmUp();
ImageWorkerProtocol.WriteReady(output);
while (ImageWorkerProtocol.ReadJob(input, maxInput) is { } job)
{
    ImageJobResult result;
    try
    {
        result = Transformer.Run(job);
    }
    catch (OutOfMemoryException)
    {
        // Past the GC's heap limit (a managed copy of a large input or output): this job only.
        result = new ImageJobResult(false, "memory", 0, 0, []);
    }

    ImageWorkerProtocol.WriteResult(output, result);
}

int Argument(int index, int fallback, int min, int max) =>
    args.Length > index && int.TryParse(args[index], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) && v >= min && v <= max ? v : fallback;
