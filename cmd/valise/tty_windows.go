package main

import "os"

// openTerminal opens the Windows console for a prompt: CONIN$ and CONOUT$
// are the console's input and output even when standard input and output
// are redirected (the equivalent of /dev/tty). golang.org/x/term reads a
// password from CONIN$ with echo turned off (SetConsoleMode).
func openTerminal() (in, out *os.File, err error) {
	in, err = os.OpenFile("CONIN$", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	out, err = os.OpenFile("CONOUT$", os.O_RDWR, 0)
	if err != nil {
		in.Close()
		return nil, nil, err
	}
	return in, out, nil
}
