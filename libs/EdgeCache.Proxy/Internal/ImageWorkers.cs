using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeCache.Engine;
using Microsoft.Extensions.Logging;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// The image worker processes (<c>EdgeCache.ImageWorker</c>) a node supervises: at most
/// <see cref="ImageWorkerOptions.Count"/> jobs at once, each in its own child process, which is started on
/// first use and again after it dies. A worker that crashes on hostile input (a native fault in a decoder)
/// or overruns the time limit (it is killed) costs that one job, answered as a refusal
/// (<c>worker-crashed</c>, <c>timeout</c>), never the node.
/// </summary>
internal sealed class ImageWorkers(ImageWorkerOptions options, ILogger logger) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(options.Count, options.Count);
    private readonly ConcurrentBag<Worker> _idle = [];
    private readonly ConcurrentDictionary<int, Worker> _all = new();
    private long _started;
    private int _busy;
    private bool _disposed;

    /// <summary>Worker processes started since the node started (the first ones included).</summary>
    public long Started => Interlocked.Read(ref _started);

    /// <summary>Jobs handed to a worker process and not yet answered.</summary>
    public int Busy => Volatile.Read(ref _busy);

    /// <summary>The process ids of the worker processes alive now (busy or idle): for tests that stop or kill one.</summary>
    internal IReadOnlyCollection<int> ProcessIds => [.. _all.Keys];

    /// <summary>Runs <paramref name="job"/> in a worker within <paramref name="timeout"/>; a refusal when no worker was
    /// free within the queue timeout (<c>busy</c>), the worker died (<c>worker-crashed</c>) or overran (<c>timeout</c>).</summary>
    public async Task<ImageJobResult> RunAsync(ImageJob job, TimeSpan timeout)
    {
        if (!await _slots.WaitAsync(options.QueueTimeout).ConfigureAwait(false)) return Refused("busy");
        Worker? worker = null;
        var handed = false;
        try
        {
            worker = await TakeAsync().ConfigureAwait(false);
            Interlocked.Increment(ref _busy);
            handed = true;
            using var deadline = new CancellationTokenSource(timeout);
            await ImageWorkerProtocol.WriteJobAsync(worker.Input, job, deadline.Token).ConfigureAwait(false);
            var result = await ImageWorkerProtocol.ReadResultAsync(worker.Output, deadline.Token).ConfigureAwait(false);
            if (result is null)
            {
                Retire(worker, "its output ended mid-job");
                worker = null;
                return Refused("worker-crashed");
            }

            _idle.Add(worker);
            worker = null;
            return result;
        }
        catch (OperationCanceledException)
        {
            if (worker is not null) Retire(worker, "it overran the time limit");
            worker = null;
            return Refused("timeout");
        }
#pragma warning disable CA1031 // a worker that cannot be started or talked to costs the job, never the request: the original is served
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (worker is not null) Retire(worker, ex.Message);
            else Log.ImageWorkerFailed(logger, ex.Message);
            worker = null;
            return Refused("worker-crashed");
        }
        finally
        {
            if (handed) Interlocked.Decrement(ref _busy);
            _slots.Release();
        }
    }

    private async Task<Worker> TakeAsync()
    {
        while (_idle.TryTake(out var idle))
        {
            if (!idle.Process.HasExited) return idle;
            Retire(idle, "it exited while idle");
        }

        var worker = Start();
        using var ready = new CancellationTokenSource(options.StartTimeout);
        var why = "it exited before it was ready";
        try
        {
            if (await ImageWorkerProtocol.ReadReadyAsync(worker.Output, ready.Token).ConfigureAwait(false)) return worker;
        }
        catch (OperationCanceledException)
        {
            why = $"it was not ready within {options.StartTimeout.TotalSeconds:0.#} s";
        }
        catch (IOException ex)
        {
            why = "its output failed before it was ready: " + ex.Message;
        }

        Retire(worker, why);
        throw new InvalidOperationException("a new image worker " + why);
    }

    private Worker Start()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var path = options.Path ?? DefaultPath();
        var maxInput = ImageWorkerProtocol.MaxOutputBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var memoryLimit = options.MemoryLimitBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] settings = [maxInput, .. new[] { options.Threads, options.WebpEffort, options.AvifEffort }.Select(static n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)), memoryLimit];
        var info = path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
            ? new ProcessStartInfo(DotnetHost(), [path, .. settings])
            : new ProcessStartInfo(path, settings);

        // The worker limits its whole process (RLIMIT_DATA) itself; the GC's own limit keeps the managed heap
        // from growing into what libvips needs (a managed allocation past it is an OutOfMemoryException, not a larger heap).
        if (options.MemoryLimitBytes > 0) info.Environment["DOTNET_GCHeapHardLimit"] = "0x" + (options.MemoryLimitBytes / 2).ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        info.RedirectStandardInput = true;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"the image worker '{path}' could not be started");
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line) Log.ImageWorkerSaid(logger, line.Length > 200 ? line[..200] : line);
        };
        process.BeginErrorReadLine();
        Interlocked.Increment(ref _started);
        var worker = new Worker(process);
        _all[process.Id] = worker;
        return worker;
    }

    private void Retire(Worker worker, string why)
    {
        _all.TryRemove(worker.Process.Id, out _);
        Log.ImageWorkerRetired(logger, worker.Process.Id, why);
        worker.Kill();
    }

    /// <summary>The worker's apphost beside this assembly, or its .dll when there is no apphost.</summary>
    private static string DefaultPath()
    {
        var dir = AppContext.BaseDirectory;
        var host = Path.Combine(dir, "EdgeCache.ImageWorker");
        return File.Exists(host) ? host : Path.Combine(dir, "EdgeCache.ImageWorker.dll");
    }

    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath) return hostPath;
        var self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }

    private static ImageJobResult Refused(string reason) => new(false, reason, 0, 0, []);

    public void Dispose()
    {
        _disposed = true;
        foreach (var (_, w) in _all) w.Kill();
        _all.Clear();
        _slots.Dispose();
    }

    private sealed class Worker(Process process)
    {
        public Process Process { get; } = process;

        public Stream Input { get; } = process.StandardInput.BaseStream;

        public Stream Output { get; } = process.StandardOutput.BaseStream;

        public void Kill()
        {
            try
            {
                if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            }
#pragma warning disable CA1031 // it is going either way
            catch (Exception)
            {
            }
#pragma warning restore CA1031
            Process.Dispose();
        }
    }
}
