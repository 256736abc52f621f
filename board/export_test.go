package board

// SelfTestStep runs SelfTest with a short step so tests stay fast.
var SelfTestStep = selfTest
