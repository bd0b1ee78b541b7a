using System.Runtime.InteropServices;

namespace EdgeCache.ImageWorker;

/// <summary>
/// The worker's own memory limit: <c>RLIMIT_DATA</c> (Linux 4.7 and later count every private writable mapping
/// in it, so it bounds libvips' buffers, the codecs' and the runtime's, but not the address space the .NET GC
/// reserves without access, which <c>RLIMIT_AS</c> would, and .NET then cannot start). An allocation past it
/// fails: libvips reports it as an error (the job is refused, <c>memory</c>), a codec may abort the process
/// (the shield counts <c>worker-crashed</c> and starts another).
/// </summary>
internal static partial class MemoryLimit
{
    private const int RlimitData = 2;

    [StructLayout(LayoutKind.Sequential)]
    private struct Rlimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRlimit(int resource, in Rlimit limit);

    /// <summary>Sets the limit; null when it was set, else why not.</summary>
    public static string? Apply(long bytes)
    {
        if (!OperatingSystem.IsLinux()) return "only on Linux";
        var limit = new Rlimit { Current = (ulong)bytes, Maximum = (ulong)bytes };
        return SetRlimit(RlimitData, limit) == 0 ? null : "setrlimit failed, errno " + Marshal.GetLastPInvokeError();
    }
}
