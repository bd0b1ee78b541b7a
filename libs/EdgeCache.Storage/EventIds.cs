namespace EdgeCache.Storage;

/// <summary>The event ids of this project's log messages (2000–2999), one constant per message
/// (<see cref="Log"/>), so operators' alert rules and the README can rely on them.</summary>
internal static class EventIds
{
    public const int Opened = 2001;
    public const int StoreSetAside = 2002;
    public const int StoreWiped = 2003;
    public const int StoreFailing = 2004;
    public const int Corrupt = 2005;
    public const int CheckpointedOnStop = 2006;
    public const int StoppedStalled = 2007;
}
