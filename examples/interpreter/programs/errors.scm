;; errors: every kind of language error unwinds cleanly to the nearest guard, with its kind,
;; message and irritants; guards nest and re-raise what they do not handle.
(define (say . items) (for-each display items) (newline))
(define (try thunk)
  (guard (e ((error-object? e) (list (error-kind e) (error-object-message e) (error-object-irritants e)))
            (else (list 'raised e)))
    (thunk)))

(say (try (lambda () (car 5))))
(say (try (lambda () ((lambda (x) x)))))
(say (try (lambda () undefined-variable)))
(say (try (lambda () (vector-ref (vector 1 2) 2))))
(say (try (lambda () (quotient 1 0))))
(say (try (lambda () (error "custom failure" 'a "b" 3))))
(say (try (lambda () (raise 'a-symbol))))
(say (try (lambda () (5 6))))
(say (try (lambda () (let loop ((n 0)) (+ 1 (loop (+ n 1)))))))
;; An inner guard that does not match re-raises to the outer one.
(say (guard (outer (#t (list 'outer-caught outer)))
       (guard (inner ((string? inner) 'inner-caught))
         (raise 'not-a-string))))
;; The stack is back to normal after all that.
(say "still fine: " (map (lambda (x) (* x 10)) '(1 2 3)) " " (heap-verify))
