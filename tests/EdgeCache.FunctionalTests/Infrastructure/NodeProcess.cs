using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// An edge or shield as a real process (the built edge/ or origin-shield/ host), configured by a
/// JSON file named by EDGECACHE_CONFIG_FILE, on fixed loopback ports so it can be killed and
/// started again where its peers expect it.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    public static readonly string ShieldDll = Dll("ShieldDll");

    public static readonly string EdgeDll = Dll("EdgeDll");

    private readonly string _dll;
    private readonly string _configFile;
    private readonly Queue<string> _output = new();
    private Process? _process;

    public NodeProcess(string dll, string configFile, int trafficPort, int adminPort)
    {
        _dll = dll;
        _configFile = configFile;
        TrafficPort = trafficPort;
        AdminPort = adminPort;
    }

    public int TrafficPort { get; }

    public int AdminPort { get; }

    public Uri TrafficUri => new($"http://127.0.0.1:{TrafficPort}/");

    public Uri AdminUri => new($"http://127.0.0.1:{AdminPort}/");

    public bool Running => _process is { HasExited: false };

    /// <summary>The process's last lines of output, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output) return string.Join('\n', _output);
        }
    }

    private static string Dll(string key) => typeof(NodeProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A free loopback port for a process started later (it cannot bind port 0 and tell us). Taken below
    /// the kernel's ephemeral range (32768 and up on Linux), where the port-0 binds of every other test
    /// host and client socket land, so one of those cannot grab it between this check and the bind.
    /// </summary>
    public static int FreePort()
    {
        lock (HandedOut)
        {
            while (true)
            {
                var port = Random.Shared.Next(20_000, 32_000);
                if (!HandedOut.Add(port)) continue;
                try
                {
                    using var l = new TcpListener(IPAddress.Loopback, port);
                    l.Start();
                    return port;
                }
                catch (SocketException)
                {
                    // In use: try another.
                }
            }
        }
    }

    /// <summary>Starts the process and waits until its admin /readyz answers 200.</summary>
    public async Task StartAsync(HttpClient client, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal) ? Environment.ProcessPath : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(_dll);
        start.Environment["EDGECACHE_CONFIG_FILE"] = _configFile;
        var process = Process.Start(start)!;
        _process = process;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!await ReadyAsync(client))
        {
            if (process.HasExited) throw new InvalidOperationException($"{Path.GetFileName(_dll)} exited with {process.ExitCode}:\n{Output}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{Path.GetFileName(_dll)} not ready:\n{Output}");
            await Task.Delay(50);
        }
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.Enqueue(line);
            while (_output.Count > 200) _output.Dequeue();
        }
    }

    private async Task<bool> ReadyAsync(HttpClient client)
    {
        try
        {
            using var r = await client.GetAsync(new Uri(AdminUri, "/readyz"));
            return r.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, writes in flight stop where they are.</summary>
    public async Task KillAsync()
    {
        if (_process is not { HasExited: false } p) return;
        p.Kill();
        await p.WaitForExitAsync();
    }

    /// <summary>SIGTERM: a graceful stop (requests finish, the disk tier checkpoints).</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } p) return;
        using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await p.WaitForExitAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
    }
}
